"""Item 3: two processes on one data folder (the app and the command line) do not corrupt it, and
songs added while training runs never mix into the result's labels.

(The GUI threads' clean shutdown is tested with the GUI, in ``tests/gui``.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import synth
from musicid_core.library import Library
from musicid_core.models import store
from reliability_helpers import REPO, assert_library_intact, child_env, cli, count

ROUNDS = 3


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(), cwd=REPO)


def test_two_processes_adding_and_removing_at_once(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = [synth.write(tmp_path / f"s{i}.wav", synth.song(i, seconds=6.0)) for i in range(8)]
    victim = library.add_songs([songs[0]]).added[0]
    for round_number in range(ROUNDS):
        # A and B overlap on s4 (added twice at once) while C removes a song both leave alone.
        a = _start(cli(library.root, "library", "add", *map(str, songs[1:5])))
        b = _start(cli(library.root, "library", "add", *map(str, songs[4:8])))
        c = _start(cli(library.root, "library", "remove", victim.id)) if round_number == 0 else None
        for proc in filter(None, (a, b, c)):
            assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
        count("concurrent process races", 3 if c else 2)
        ids = [s.id for s in library.songs()]
        assert len(ids) == len(set(ids)) == 7, ids  # every song once, the removed one gone
        assert_library_intact(library)
        for song in library.songs():
            if song.source != "s4.wav":
                library.remove_song(song.id)
    assert not library.repair().changed


def test_songs_added_during_training_never_mix_labels(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    library.add_songs([synth.write(tmp_path / f"s{i}.wav", synth.song(i, seconds=6.0)) for i in range(2)])
    before = library.fingerprint()
    negatives = tmp_path / "negatives"
    synth.write(negatives / "other.wav", synth.song(20, seconds=6.0))
    driver = [sys.executable, str(Path(__file__).with_name("train_driver.py")), str(library.root), str(negatives), "3"]
    proc = subprocess.Popen(driver, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=REPO)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("training|"):  # the dataset is built: now another process adds a song
            subprocess.run(cli(library.root, "library", "add", str(synth.write(tmp_path / "late.wav", synth.song(9)))),
                           check=True, env=child_env(), capture_output=True)
            count("concurrent process races")
            break
    out, err = proc.communicate(timeout=300)
    current = store.current_bundle_path(library.models_dir)
    assert proc.returncode == 0, err[-500:]
    # saved for the songs it was trained on, and therefore shown as out of date
    meta, labels = store.verify_bundle(current)
    assert meta.library_fingerprint == before != library.fingerprint()
    assert len(labels) == 2 and "late" not in {label.source for label in labels}
    assert len(library.songs()) == 3
