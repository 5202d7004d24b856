import sys

from musicid_cli.main import main

sys.exit(main())
