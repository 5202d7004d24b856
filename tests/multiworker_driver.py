"""A two-worker training cluster on one machine, for ``test_distribute``.

TensorFlow's gRPC server listens on every interface (its bind address, 0.0.0.0, is hard-coded),
so the cluster runs inside a private network namespace (``unshare --net``), where nothing but
this process tree can reach it:

    unshare --net --map-root-user python multiworker_driver.py cluster DATA0 DATA1 NEGATIVES

brings the namespace's loopback up, starts ``worker`` twice (TF_CONFIG naming two 127.0.0.1
ports), waits for both and prints one JSON line: each worker's exit code and output. A worker
prints one line per progress report, then ``DONE|<bundle or ->|<epochs>``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

WORKER_TIMEOUT_S = 200


def loopback_up() -> None:
    """``ip link set lo up`` without iproute2 (a new network namespace starts with lo down)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, struct.pack("16sh", b"lo", 0)))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cluster(data_dirs: list[str], negatives: str) -> int:
    loopback_up()
    workers = [f"127.0.0.1:{port}" for port in free_ports(len(data_dirs))]
    processes = []
    for index, data in enumerate(data_dirs):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(subprocess.Popen(
            [sys.executable, __file__, "worker", data, negatives], env={**os.environ, "TF_CONFIG": json.dumps(config)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    results = []
    try:
        for process in processes:
            try:
                output = process.communicate(timeout=WORKER_TIMEOUT_S)[0]
            except subprocess.TimeoutExpired:
                process.kill()
                output = process.communicate()[0] + "\n(timed out)"
            results.append({"returncode": process.returncode, "output": output})
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    print(json.dumps(results), flush=True)
    return 0


def worker(data: str, negatives: Path) -> int:
    from musicid_core.library import Library
    from musicid_core.tfquiet import load_tensorflow
    from training.train import TrainOptions, TrainProgress, train

    load_tensorflow()
    options = TrainOptions(arch="tiny", epochs=2, examples_per_song=8, batch_size=8, learning_rate=5e-3,
                           seed=1, negatives_dir=negatives, precision="float32")

    def progress(p: TrainProgress) -> None:
        print(f"{p.stage}|{p.epoch}|{p.batch}|{p.message}", flush=True)

    result = train(Library(data), options, progress=progress)
    print(f"DONE|{result.bundle.name if result.bundle else '-'}|{result.epochs_run}", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "cluster":
        sys.exit(cluster(sys.argv[2:-1], sys.argv[-1]))
    sys.exit(worker(sys.argv[2], Path(sys.argv[3])))
