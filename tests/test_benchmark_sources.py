"""The by-source benchmark's building blocks: reading a game's .pk3 safely, per-file licences from
a DEP-5 copyright file, the tuning/held-out split, speed drift, and deterministic room noise."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from benchmarks.by_source import SIDES, speed_changed
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, copyright_stanzas, extract_pk3_music
from benchmarks.room_noise import NOISE_SOURCES, source_clips


def test_pk3_music_is_extracted_by_base_name_and_nothing_else(tmp_path: Path) -> None:
    pk3 = tmp_path / "0music.pk3"
    with zipfile.ZipFile(pk3, "w") as archive:
        archive.writestr("music/good.ogg", b"OggS fake")
        archive.writestr("music/../../escape.ogg", b"OggS evil")
        archive.writestr("sound/effect.ogg", b"OggS effect")
        archive.writestr("music/readme.txt", b"text")
        archive.writestr("music/deeper/nested.ogg", b"OggS nested")
    target = tmp_path / "out" / "music"
    extract_pk3_music(pk3, target)
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == ["good.ogg"]
    assert not (tmp_path / "escape.ogg").exists() and not (tmp_path / "out" / "escape.ogg").exists()
    assert (target / "good.ogg").read_bytes() == b"OggS fake"


def test_copyright_stanzas_give_each_file_its_licence(tmp_path: Path) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2002-2014, The Team\nLicense: GPL-2+\n\n"
        "Files:\n base/music/a.ogg\n base/music/b.ogg\n base/sound/x.ogg\n"
        "Copyright:\n Alice\n Bob\nLicense: CC-BY-3.0\n\n"
        "Files: base/music/c.ogg\nCopyright: Carol\nLicense: public-domain\n Text of the licence.\n"
    )
    found = copyright_stanzas(copyright_file, "base/music/")
    assert found == {"a.ogg": ("CC-BY-3.0", "Alice; Bob"), "b.ogg": ("CC-BY-3.0", "Alice; Bob"),
                     "c.ogg": ("public-domain", "Carol")}


def test_sides_split_soundtracks_and_noise_by_source() -> None:
    tuning, held_out = SIDES["tuning"], SIDES["held-out"]
    tuning_music = set(tuning.enrolled_packages + tuning.unknown_packages)
    held_out_music = set(held_out.enrolled_packages + held_out.unknown_packages)
    assert tuning_music <= set(SONG_PACKAGES) and held_out_music <= set(HELD_OUT_SONG_PACKAGES)
    assert not set(tuning.enrolled_packages) & set(tuning.unknown_packages)
    assert not set(held_out.enrolled_packages) & set(held_out.unknown_packages)
    assert not set(tuning.noise_sources) & set(held_out.noise_sources)
    assert set(held_out.noise_sources) <= set(NOISE_SOURCES)


@pytest.mark.parametrize("speed", [1.01, 0.99])
def test_speed_drift_changes_the_length_by_the_speed(speed: float) -> None:
    x = np.sin(np.arange(22050 * 2) * 0.05)
    y = speed_changed(x, speed)
    assert abs(y.size - x.size / speed) <= 2


def test_room_noise_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    first = source_clips("hvac-60hz", tmp_path / "a", seed=3, clips=1)[0]
    again = source_clips("hvac-60hz", tmp_path / "b", seed=3, clips=1)[0]
    other = source_clips("hvac-60hz", tmp_path / "c", seed=4, clips=1)[0]
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()
