"""A training run in a child process, for the kill tests: one stdout line per progress report.

Usage: train_driver.py DATA_DIR NEGATIVES_DIR EPOCHS [--resume]
"""

from __future__ import annotations

import sys
from pathlib import Path

from musicid_core.library import Library
from musicid_core.tfquiet import load_tensorflow
from training.train import TrainOptions, TrainProgress, train


def main() -> int:
    data, negatives, epochs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    load_tensorflow()
    options = TrainOptions(arch="tiny", epochs=epochs, examples_per_song=8, batch_size=8, learning_rate=5e-3,
                           seed=1, negatives_dir=negatives)

    def progress(p: TrainProgress) -> None:
        print(f"{p.stage}|{p.epoch}|{p.batch}|{p.message}", flush=True)

    result = train(Library(data), options, progress=progress, resume="--resume" in sys.argv)
    print(f"DONE|{result.bundle.name}|{result.epochs_run}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
