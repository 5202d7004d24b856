"""The ``musicid`` command: its contract, exit codes and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_cli.main import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "musicid_cli", *args], capture_output=True, text=True, timeout=300)


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "library", "frobnicate")
    assert result.returncode == 2 and "usage" in result.stderr


def test_library_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    song = synth.write(tmp_path / "My Song.wav", synth.song(0, seconds=6.0))
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "library", "add", str(song)]) == 0
    assert main(["--data-dir", data, "library", "add", str(song)]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "already in the library" in out
    assert main(["--data-dir", data, "library", "list"]) == 0
    line = capsys.readouterr().out.strip()
    song_id = line.split()[0]
    assert "My Song" in line and "[My Song.wav]" in line
    assert main(["--data-dir", data, "library", "remove", song_id]) == 0
    assert main(["--data-dir", data, "library", "remove", song_id]) == 1
    assert "no song with id" in capsys.readouterr().err


def test_library_check_and_compact_a_folder_of_an_earlier_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from musicid_core.library import Library
    from musicid_core.storage import atomic_save_npy

    data = tmp_path / "data"
    library = Library(data)
    song = library.add_songs([synth.write(tmp_path / "Old.wav", synth.song(1, seconds=6.0))]).added[0]
    ogg = library.song_path(song)
    atomic_save_npy(ogg.with_suffix(".npy"), library.song_audio(song).astype(np.float16))  # as stored before
    ogg.unlink()
    assert main(["--data-dir", str(data), "library", "check"]) == 0
    assert "1 songs are stored in an earlier version's larger form" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "library", "compact"]) == 0
    assert "1 of 1 songs" in capsys.readouterr().out
    assert library.song_path(song) == ogg and ogg.exists() and not ogg.with_suffix(".npy").exists()
    assert main(["--data-dir", str(data), "library", "check"]) == 0
    assert "earlier version" not in capsys.readouterr().err


def test_identify_in_an_empty_library_fails_with_one_line(tmp_path: Path) -> None:
    clip = synth.write(tmp_path / "clip.wav", synth.song(0, seconds=6.0))
    result = run("--data-dir", str(tmp_path / "empty"), "identify", str(clip))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no songs yet" in result.stderr


def test_songs_added_are_identified_at_once_with_no_training(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    songs = [synth.write(tmp_path / "in" / f"Tune {i}.wav", synth.song(i, seconds=20.0)) for i in range(3)]
    added = run("--data-dir", data, "library", "add", *map(str, songs))
    assert added.returncode == 0 and "can be identified now" in added.stderr
    clips = [synth.write(tmp_path / f"clip{i}.wav", synth.noisy_excerpt(i, 2.0, 8.0, np.random.default_rng(i))) for i in range(3)]
    stranger = synth.write(tmp_path / "stranger.wav", synth.song(synth.STRANGER, seconds=8.0))
    result = run("--data-dir", data, "identify", "--json", *map(str, clips), str(stranger))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["verdict"], a["matches"][0]["title"]) for a in answers[:3]] == [("match", f"Tune {i}") for i in range(3)]
    assert answers[3]["verdict"] == "unknown"
    assert "Preparing the songs" not in result.stderr  # nothing to prepare: no line
    from musicid_core.library import Library
    from musicid_core.song_index import SongIndex

    index = SongIndex(Library(Path(data)))
    for song in index.library.songs():  # as an upgrade that changes the songs' analysis leaves them
        path = index.path(song.id)
        with np.load(path) as stored:
            arrays = {k: stored[k] for k in stored.files}
        arrays["parameters"] = arrays["parameters"] + 1
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    again = run("--data-dir", data, "identify", "--json", str(clips[1]))
    assert json.loads(again.stdout)["matches"][0]["title"] == "Tune 1"
    assert "Preparing the songs: 100% Indexed 3 of 3 songs" in again.stderr, again.stderr


def test_identify_json_one_object_per_file(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    library, _ = trained_library
    rng = np.random.default_rng(3)
    files = [synth.write(tmp_path / f"rec {i}.wav", synth.noisy_excerpt(i, 2.0, 7.0, rng)) for i in (2, 0)]
    bad = tmp_path / "broken.wav"
    bad.write_text("nope")
    result = run("--data-dir", str(library.root), "identify", str(files[0]), str(bad), str(files[1]), "--json", "--top", "3")
    assert result.returncode == 1  # one file failed; the others were still identified
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(files[0]), str(files[1])]
    for line, index in zip(lines, (2, 0)):
        assert line["verdict"] in ("match", "unknown") and len(line["matches"]) == 3
        assert set(line["matches"][0]) == {"title", "source", "score"}
        assert line["matches"][0]["title"] == f"song{index}" and line["matches"][0]["source"] == f"song{index}.wav"
    assert "broken.wav" in result.stderr and "Traceback" not in result.stderr


def test_identify_answers_from_3_s_and_gives_the_length_of_a_shorter_file(trained_library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    library, _ = trained_library
    rng = np.random.default_rng(8)
    three = synth.write(tmp_path / "three.wav", synth.noisy_excerpt(1, 3.0, 3.0, rng))
    almost_five = synth.write(tmp_path / "almost five.wav", synth.noisy_excerpt(3, 2.0, 4.97, rng))
    too_short = synth.write(tmp_path / "short.wav", synth.noisy_excerpt(0, 2.0, 2.99, rng))
    result = run("--data-dir", str(library.root), "identify", str(three), str(too_short), str(almost_five), "--json")
    assert result.returncode == 1  # the 2.99-s file failed; the others were answered
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["file"], line["matches"][0]["title"]) for line in lines] == [(str(three), "song1"), (str(almost_five), "song3")]
    assert result.stderr.strip() == f"musicid: error: {too_short}: the recording is 2.99 s long; at least 3.00 s is needed"


def test_evaluate_prints_metrics(trained_library) -> None:  # type: ignore[no-untyped-def]
    library, _ = trained_library
    result = run("--data-dir", str(library.root), "evaluate")
    assert result.returncode == 0
    for word in ("accuracy", "precision", "ROC AUC", "top-5", "landmark margin", "profile margin",
                 "match when the top song is right with probability", "answers unknown to"):
        assert word in result.stdout


def test_training_progress_bar_never_goes_back_between_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    from musicid_cli.progressbar import ProgressBar
    from training.train import TrainProgress

    shown: list[float] = []
    bar = ProgressBar("Training")
    monkeypatch.setattr(bar, "update", lambda fraction, message: shown.append(fraction))
    for stage in ("dataset", "training", "evaluating", "fingerprints", "saving"):
        for fraction in (0.0, 0.5, 1.0):
            bar.train_update(TrainProgress(stage, fraction, stage))
    assert shown == sorted(shown) and shown[0] == 0.0 and shown[-1] == 1.0


def test_listen_is_documented_and_top_has_help() -> None:
    listen = run("listen", "--help").stdout
    for option in ("--device", "--list-devices", "--seconds", "--continuous", "--json"):
        assert option in listen
    assert "how many songs" in run("identify", "--help").stdout


def test_listen_stops_cleanly_on_sigterm_and_sigint() -> None:
    import os
    import signal

    from musicid_cli.listen import _StopFlag

    # Whatever the handler was before (a job started in the background by a non-interactive shell
    # inherits SIGINT ignored), it is the one put back afterwards.
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with _StopFlag() as stop:
            os.kill(os.getpid(), sig)
            assert stop.event.wait(2)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # restored afterwards


def test_listen_lists_devices_in_two_groups() -> None:
    done = run("listen", "--list-devices")
    if done.returncode != 0:
        assert "PortAudio" in done.stderr or "devices" in done.stderr  # no audio system: a clear one-line reason
        return
    assert "Microphones:" in done.stdout and "This computer's sound:" in done.stdout
