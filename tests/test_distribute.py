"""The tf.distribute code path: two local workers train one model through MultiWorkerMirroredStrategy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import synth

from musicid_core.library import Library
from musicid_core.models.store import current_bundle_path, load_bundle
from training.distribute import Cluster, cluster

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).with_name("multiworker_driver.py")
TIMEOUT_S = 300
UNSHARE = ["unshare", "--net", "--map-root-user"]
"""TensorFlow's workers listen on every interface: they run in a private network namespace."""


def _can_unshare() -> bool:
    try:
        return subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def test_the_cluster_is_read_from_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster() == Cluster(0, 1)
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 1))
    assert cluster() == Cluster(1, 2) and not cluster().is_chief
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                                                "task": {"type": "chief", "index": 0}}))
    assert cluster().is_chief and cluster().count == 2


@pytest.mark.skipif(not _can_unshare(), reason="needs Linux network namespaces ('unshare --net --map-root-user')")
def test_two_local_workers_train_and_only_the_chief_saves(tmp_path: Path) -> None:
    """Both workers fit every step of both epochs (in lock step: a collective all-reduce per step),
    the chief saves a bundle that loads, the other worker writes no model."""
    first = Library(tmp_path / "worker0")
    first.add_songs([synth.write(tmp_path / f"song{i}.wav", synth.song(i, seconds=6.0)) for i in range(2)])
    first.add_noise([synth.write(tmp_path / "noise.wav", synth.noise(0))], pack="generated")
    negatives = tmp_path / "negatives"  # three strangers are enough for a run nobody evaluates
    for index in list(synth.NEGATIVE_SONGS)[:3]:
        synth.write(negatives / f"other{index}.wav", synth.song(index, seconds=6.0))
    shutil.copytree(first.root, tmp_path / "worker1")  # each worker has its own copy of the library
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [*UNSHARE, sys.executable, str(DRIVER), "cluster", str(first.root), str(tmp_path / "worker1"),
               str(negatives)]
    launched = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert launched.returncode == 0, launched.stderr[-3000:]
    results = json.loads(launched.stdout.splitlines()[-1])
    for result in results:
        assert result["returncode"] == 0, result["output"][-3000:]
    outputs = [result["output"] for result in results]
    chief, other = (output.splitlines() for output in outputs)
    assert "training|1|0|Training on worker 1 of 2, 2 replicas" in chief
    assert "training|1|0|Training on worker 2 of 2, 2 replicas" in other
    assert [line for line in other if line.startswith("training|2|4|Epoch 2/2, batch 4/4")]  # every step, both workers
    saved = current_bundle_path(first.models_dir)
    assert saved is not None and chief[-1] == f"DONE|{saved.name}|2"
    assert other[-1] == "DONE|-|2" and not (tmp_path / "worker1" / "models").exists()
    bundle = load_bundle(saved)
    assert len(bundle.labels) == 2 and bundle.meta.epochs == 2
