"""MusicID desktop application (PySide6). All recognition and training logic lives in
``musicid_core`` and ``training``; this package only presents it."""
