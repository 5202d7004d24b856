"""Fuzzing the readers of untrusted bytes: audio import, the catalogue (the SQLite file, its rows,
and an earlier version's catalogue.json on its way through the migration), noise-pack zips.

Hypothesis mutates valid seeds (flipped and overwritten bytes, cuts, insertions) with a fixed
seed (``derandomize``) and a bounded number of examples. The contract: a reader returns a clean
result or raises our own error (``AudioError``/``LibraryError``); anything else is a crash. A
crashing input is saved in ``corpus/`` before the test fails, and ``test_corpus_replays`` keeps
every saved input as a regression test.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synth
from musicid_core.audio.decode import load_audio
from musicid_core.errors import AudioError, LibraryError
from musicid_core.catalogue import LEGACY_JSON_SCHEMA, Catalogue, NoiseClip, Song, row_checksum
from musicid_core.library import Library
from musicid_core.storage import payload_checksum
from reliability_helpers import CORPUS, FORMATS, count, write_format

_BASE = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    """Deterministic (fixed seed, no example database), bounded, no deadline (ffmpeg is slow)."""
    return settings(_BASE, max_examples=examples)


mutation = st.tuples(st.sampled_from(["flip", "overwrite", "cut", "insert", "truncate"]),
                     st.floats(0, 1), st.binary(min_size=1, max_size=64))


def mutate(data: bytes, steps: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, chunk in steps:
        # Headers are where parsers break: half of the positions fall in the first 256 bytes.
        pos = int(where * 2 * min(len(out), 256)) if where < 0.5 else int(where * len(out))
        pos = min(pos, max(len(out) - 1, 0))
        if op == "flip" and out:
            out[pos] ^= chunk[0] or 1
        elif op == "overwrite":
            out[pos : pos + len(chunk)] = chunk
        elif op == "cut":
            del out[pos : pos + len(chunk) * 16]
        elif op == "insert":
            out[pos:pos] = chunk
        elif op == "truncate":
            del out[pos:]
    return bytes(out)


def keep_crasher(name: str, data: bytes) -> Path:
    CORPUS.mkdir(exist_ok=True)
    path = CORPUS / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}{Path(name).suffix}"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzzseeds")
    return {ext: write_format(folder / f"seed.{ext}", synth.song(7, seconds=1.0)).read_bytes() for ext in FORMATS}


def check_audio(path: Path) -> None:
    try:
        audio = load_audio(path, allow_silence=True)
    except AudioError as exc:
        assert exc.reason
        return
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 0
    assert np.all(np.isfinite(audio)) and float(np.abs(audio).max()) <= 1.0


# libsndfile formats are decoded in-process and fast; ffmpeg formats cost two processes each.
@pytest.mark.parametrize(("formats", "examples"), [(("wav", "flac", "ogg", "opus", "mp3"), 120), (("m4a", "aac"), 20)])
def test_fuzz_audio_import(formats: tuple[str, ...], examples: int, seeds: dict[str, bytes], tmp_path: Path) -> None:
    @fuzz(examples)
    @given(ext=st.sampled_from(formats), steps=st.lists(mutation, min_size=1, max_size=6))
    def one(ext: str, steps: list[tuple[str, float, bytes]]) -> None:
        data = mutate(seeds[ext], steps)
        path = tmp_path / f"fuzz.{ext}"
        path.write_bytes(data)
        count(f"fuzzed audio inputs ({'/'.join(formats)})")
        try:
            check_audio(path)
        except BaseException:
            keep_crasher(f"audio.{ext}", data)
            raise

    one()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
hex_id = st.text("0123456789abcdef", min_size=10, max_size=13)
song_entry = st.fixed_dictionaries(
    {"id": hex_id | st.sampled_from(["../../etc", "a" * 12, "/abs/path00"]), "title": st.text(max_size=10) | json_values,
     "source": st.text(max_size=10), "duration": st.floats() | st.integers() | json_values,
     "sha256": st.text(max_size=5), "added": st.text(max_size=5)},
    optional={"artist": json_values, "extra": json_values},
)
noise_entry = st.fixed_dictionaries(
    {"id": hex_id, "pack": st.sampled_from(["room", "../up", "/abs", ".", "", "ok pack"]) | st.text(max_size=8),
     "name": st.text(max_size=8), "duration": st.floats(0, 10), "sha256": st.text(max_size=5)},
)
catalogue_payload = st.one_of(
    json_values,
    st.fixed_dictionaries({"songs": st.lists(song_entry | json_values, max_size=4)},
                          optional={"noise": st.lists(noise_entry | json_values, max_size=3) | json_values}),
)


def read_everything(library: Library) -> None:
    """Every catalogue reader the app and the command line use."""
    try:
        songs = library.songs()
        library.noise_packs()
        library.fingerprint()
        library.problems()
    except LibraryError as exc:
        assert "repair" in str(exc)
        return
    for song in songs:  # whatever got through names only files inside the data folder
        assert library.root in library.song_path(song).resolve().parents
    for clip in library.noise_clips():
        assert library.root in library.noise_path(clip).resolve().parents


@fuzz(120)
@given(payload=catalogue_payload, schema=st.sampled_from([LEGACY_JSON_SCHEMA, LEGACY_JSON_SCHEMA, 0, "1", None]),
       steps=st.lists(mutation, max_size=3))
def test_fuzz_legacy_catalogue_migration(payload: object, schema: object, steps: list, tmp_path_factory) -> None:  # type: ignore[type-arg]
    """An earlier version's catalogue.json, opened (so migrated when valid): structured payloads with
    a *valid* checksum reach the validation, byte mutations the parser."""
    root = tmp_path_factory.mktemp("cat") / "data"
    root.mkdir()
    document = {"schema": schema, "sha256": payload_checksum(payload), "payload": payload}
    data = mutate(json.dumps(document).encode(), steps)
    (root / "catalogue.json").write_bytes(data)
    count("fuzzed catalogues (catalogue.json, migrated)")
    try:
        check_catalogue(Library(root))
    except BaseException:
        keep_crasher("catalogue.json", data)
        raise


def check_catalogue(library: Library) -> None:
    read_everything(library)
    report = library.repair()  # repair never fails on a damaged catalogue, and keeps it aside
    assert library.songs() == [] or report.songs == len(library.songs())
    assert library.catalogue_path.exists()


@pytest.fixture(scope="module")
def catalogue_seed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small SQLite catalogue: three songs, two noise clips, compacted."""
    catalogue = Catalogue(tmp_path_factory.mktemp("seed") / "catalogue.sqlite")
    catalogue.create_empty()
    for i in range(3):
        catalogue.add_song(Song(f"{i:012x}", f"Song {i}", f"s{i}.wav", 6.0 + i, f"{i:064x}", "2026-01-01", "A"))
    for i in range(2):
        catalogue.add_noise(NoiseClip(f"{i:012x}", "room", f"n{i}.wav", 2.0, f"{i:064x}"))
    with closing(sqlite3.connect(catalogue.path)) as db:
        db.execute("VACUUM")
    return catalogue.path.read_bytes()


@fuzz(120)
@given(steps=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_catalogue_file(steps: list, catalogue_seed: bytes, tmp_path_factory) -> None:  # type: ignore[type-arg]
    """Byte mutations of a valid catalogue.sqlite reach SQLite's parser and integrity check."""
    library = Library(tmp_path_factory.mktemp("sqlite") / "data")
    data = mutate(catalogue_seed, steps)
    library.catalogue_path.write_bytes(data)
    count("fuzzed catalogues (catalogue.sqlite bytes)")
    try:
        check_catalogue(library)
    except BaseException:
        keep_crasher("catalogue.sqlite", data)
        raise


sql_value = (st.text(max_size=10) | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
             | st.binary(max_size=8))
song_row = st.tuples(hex_id | st.sampled_from(["../../etc", "a" * 12, "/abs/path00"]) | sql_value, sql_value,
                     sql_value, st.floats() | sql_value, sql_value, sql_value, sql_value)
noise_row = st.tuples(hex_id | sql_value, st.sampled_from(["room", "../up", "/abs", ".", "", "ok pack"]) | sql_value,
                      sql_value, st.floats(0, 10) | sql_value, sql_value)


@fuzz(80)
@given(songs=st.lists(st.tuples(song_row, st.booleans()), max_size=4),
       noise=st.lists(st.tuples(noise_row, st.booleans()), max_size=3))
def test_fuzz_catalogue_rows(songs: list, noise: list, tmp_path_factory) -> None:  # type: ignore[type-arg]
    """Rows of any value and type (as another program could write them), half of them under a
    *valid* row checksum, so that they reach the validation."""
    library = Library(tmp_path_factory.mktemp("rows") / "data")
    count("fuzzed catalogues (catalogue.sqlite rows)")
    with closing(sqlite3.connect(library.catalogue_path)) as db, db:
        for table, kind, rows in (("songs", Song, songs), ("noise", NoiseClip, noise)):
            columns = ", ".join(kind.__dataclass_fields__)
            for values, valid in rows:
                checksum = row_checksum(kind(*values)) if valid else "0" * 64
                try:
                    marks = ", ".join("?" * (len(values) + 1))
                    db.execute(f"INSERT INTO {table} ({columns}, checksum) VALUES ({marks})", (*values, checksum))
                except sqlite3.IntegrityError:  # NOT NULL (NaN is stored as NULL) or a repeated id
                    continue
    check_catalogue(library)


@pytest.fixture(scope="module")
def noise_zip() -> bytes:
    wav = io.BytesIO()
    sf.write(wav, synth.noise(2, seconds=1.0), synth.SR, format="WAV")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/rain.wav", wav.getvalue())
        archive.writestr("b/cafe.wav", wav.getvalue()[:-400])
    return buffer.getvalue()


@fuzz(80)
@given(steps=st.lists(mutation, min_size=1, max_size=5))
def test_fuzz_noise_zip(steps: list, noise_zip: bytes, tmp_path_factory) -> None:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("zip")
    data = mutate(noise_zip, steps)
    (root / "pack.zip").write_bytes(data)
    library = Library(root / "data")
    count("fuzzed noise zips")
    try:
        report = library.add_noise([root / "pack.zip"], pack="fuzz")
        assert len(report.added) + len(report.failed) + len(report.duplicates) >= 1
        assert {p.parent.name for p in (root / "data" / "noise").glob("*/*")} <= {"fuzz"}
        assert not any((root / "data" / "tmp").iterdir())
    except BaseException:
        keep_crasher("noise.zip", data)
        raise


def test_corpus_replays(tmp_path: Path) -> None:
    """Every input that once crashed a reader (or was written to, like a NaN file that crashed the
    resampler) must now give a clean result or our own error."""
    files = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md")
    assert files, "the corpus is empty"
    for path in files:
        count("corpus inputs replayed")
        if path.name.startswith("audio"):
            check_audio(path)
        elif path.name.startswith("catalogue.sqlite"):
            library = Library(tmp_path / path.name)
            library.catalogue_path.write_bytes(path.read_bytes())
            check_catalogue(library)
        elif path.name.startswith("catalogue"):  # an earlier version's catalogue.json: migrated on opening
            (tmp_path / path.name).mkdir()
            (tmp_path / path.name / "catalogue.json").write_bytes(path.read_bytes())
            check_catalogue(Library(tmp_path / path.name))
        elif path.name.startswith("noise"):
            report = Library(tmp_path / path.name).add_noise([path], pack="corpus")
            assert report.added or report.failed
