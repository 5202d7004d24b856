"""Accuracy and training time as the library grows.

    python -m benchmarks.scale_training [--sizes 10 30 all] [--arch fast] [--epochs N] [--examples-per-song N]

Each size is a fresh library (``benchmarks.accuracy`` with ``--songs N``), trained from scratch at
the given budget (default: the app's, 200 examples/song x 6 epochs) and measured on the 10-s
queries at 0 dB SNR. The 57-song point is the main accuracy run (``accuracy-fast-n57-e6-x200``),
not retrained. ``all`` enrols every song the allowed packages give (72 once the negatives' sources
are removed); no song is then left for the rejection rate, so only top-1/top-5 are measured.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["10", "30", "all"])
    parser.add_argument("--arch", default="fast")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--examples-per-song", type=int, default=None)
    args = parser.parse_args(argv)
    for size in args.sizes:
        extra = []
        if args.epochs:
            extra += ["--epochs", str(args.epochs)]
        if args.examples_per_song:
            extra += ["--examples-per-song", str(args.examples_per_song)]
        name = f"scale-{args.arch}-n{size}" + (f"-e{args.epochs}" if args.epochs else "") + (
            f"-x{args.examples_per_song}" if args.examples_per_song else "")
        print(f"=== {name}", flush=True)
        accuracy.main(["--arch", args.arch, "--songs", size, "--name", name, "--length", "10", "--snr", "0", *extra])
    return 0


if __name__ == "__main__":
    sys.exit(main())
