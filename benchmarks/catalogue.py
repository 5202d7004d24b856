"""The catalogue alone, old JSON document against SQLite: adding entries one by one, and listing.

    python -m benchmarks.catalogue [--entries 1000] [--large 10000] [--folder DIR]

Catalogue operations only, on fake song entries (no audio is decoded or written):

* JSON (the format before SQLite, still read for the migration): each add is what
  ``Library._add_one_song`` did, less the audio: list the songs to find a duplicate (read the
  document, check its checksum, validate every entry), then under the lock read it again, append,
  and write it back atomically (temporary file, fsync, rename, fsync folder). Listing: read,
  check and validate.
* SQLite: each add is what ``Library._add_one_song`` does now, less the audio: list the songs to
  find a duplicate (``Library.songs()``: open with ``quick_check``, validate every row and its
  checksum), then the lock and one ``Catalogue.add_song`` transaction (``quick_check``, indexed
  duplicate look-up, insert, commit with ``synchronous=FULL``). Listing: ``Library.songs()``.

Then, at ``--large`` entries (built in one go): listing, and opening with ``quick_check`` (every
read and change) against the full ``integrity_check`` (repair), and the files' sizes.

Timings depend on the disk's fsync: ``--folder`` chooses where the files go (default: a temporary
folder). Figures are printed, and saved in ``benchmarks/results/catalogue.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from benchmarks.common import command_line, machine, write_result
from musicid_core.catalogue import LEGACY_JSON_SCHEMA, Catalogue, Song, read_legacy_json
from musicid_core.library import Library
from musicid_core.storage import write_checked_json


def fake_song(i: int) -> Song:
    return Song(f"{i:012x}", f"Song number {i}", f"{i:03d} Some Artist - Song number {i}.flac", 180.0 + i / 7,
                f"{i:012x}{i:052x}", "2026-12-02T00:00:00+00:00", "Some Artist")


def timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def json_adds(folder: Path, n: int) -> list[float]:
    path, lock = folder / "catalogue.json", FileLock(str(folder / ".lock"))
    write_checked_json(path, LEGACY_JSON_SCHEMA, {"songs": [], "noise": []})

    def add(song: Song) -> None:
        assert all(s.sha256 != song.sha256 for s in read_legacy_json(path).songs)  # Library._find_song
        with lock:
            contents = read_legacy_json(path)
            songs = [asdict(s) for s in contents.songs] + [asdict(song)]
            write_checked_json(path, LEGACY_JSON_SCHEMA, {"songs": songs, "noise": [asdict(c) for c in contents.noise]})

    return [timed(lambda i=i: add(fake_song(i))) for i in range(n)]


def sqlite_adds(folder: Path, n: int) -> list[float]:
    library = Library(folder)

    def add(song: Song) -> None:
        assert library._find_song(song.sha256) is None
        with library._changing() as catalogue:
            assert catalogue.add_song(song)

    return [timed(lambda i=i: add(fake_song(i))) for i in range(n)]


def json_change(path: Path) -> None:
    """One change of the JSON catalogue: read, check, validate, write back (as an add did)."""
    contents = read_legacy_json(path)
    write_checked_json(path, LEGACY_JSON_SCHEMA, {"songs": [asdict(s) for s in contents.songs], "noise": []})


def sqlite_add_remove(catalogue: Catalogue, i: int) -> tuple[float, float]:
    added = timed(lambda: catalogue.add_song(fake_song(i)))
    return added, timed(lambda: catalogue.remove_song(fake_song(i).id))


def best_of(action, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    return min(timed(action) for _ in range(runs))


def summary(times: list[float]) -> dict[str, float]:
    tenth = max(len(times) // 10, 1)
    return {
        "total_s": round(sum(times), 3),
        "median_ms": round(statistics.median(times) * 1000, 2),
        "first_10pct_mean_ms": round(statistics.mean(times[:tenth]) * 1000, 2),
        "last_10pct_mean_ms": round(statistics.mean(times[-tenth:]) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="catalogue-bench-", dir=args.folder))
    result: dict = {"kind": "catalogue", "command": command_line(), "machine": machine(), "folder": str(base),
                    "entries": args.entries, "load_average_before": list(os.getloadavg())}

    print(f"Adding {args.entries} entries one by one, then listing them ({base})")
    for name, adds in (("json", json_adds), ("sqlite", sqlite_adds)):
        folder = base / name
        folder.mkdir()
        result[name] = summary(adds(folder, args.entries))
        if name == "json":
            listing = best_of(lambda folder=folder: read_legacy_json(folder / "catalogue.json").songs)
            size = (folder / "catalogue.json").stat().st_size
        else:
            library = Library(folder)
            assert len(library.songs()) == args.entries
            listing = best_of(library.songs)
            size = library.catalogue_path.stat().st_size
        result[name].update(list_ms=round(listing * 1000, 2), bytes=size)
        r = result[name]
        print(f"  {name:6s} add: total {r['total_s']:7.2f} s, median {r['median_ms']:6.2f} ms "
              f"(first 10 %: {r['first_10pct_mean_ms']:.2f} ms, last 10 %: {r['last_10pct_mean_ms']:.2f} ms); "
              f"list {r['list_ms']:.2f} ms; file {size / 1024:.0f} KiB")

    print(f"At {args.large} entries (built in one go)")
    large = base / "large"
    large.mkdir()
    songs = [fake_song(i) for i in range(args.large)]
    write_checked_json(large / "catalogue.json", LEGACY_JSON_SCHEMA, {"songs": [asdict(s) for s in songs], "noise": []})
    catalogue = Catalogue(large / "catalogue.sqlite")
    catalogue.rebuild(songs, [])
    changes = [sqlite_add_remove(catalogue, args.large) for _ in range(3)]
    result["large"] = {
        "entries": args.large,
        "json_list_ms": round(best_of(lambda: read_legacy_json(large / "catalogue.json")) * 1000, 1),
        "sqlite_list_ms": round(best_of(catalogue.read) * 1000, 1),
        "sqlite_integrity_check_list_ms": round(best_of(lambda: catalogue.read(thorough=True)) * 1000, 1),
        "json_change_ms": round(best_of(lambda: json_change(large / "catalogue.json"), 3) * 1000, 1),
        "sqlite_add_ms": round(min(a for a, _ in changes) * 1000, 1),
        "sqlite_remove_ms": round(min(r for _, r in changes) * 1000, 1),
        "json_bytes": (large / "catalogue.json").stat().st_size,
        "sqlite_bytes": catalogue.path.stat().st_size,
    }
    r = result["large"]
    print(f"  list: JSON {r['json_list_ms']} ms, SQLite {r['sqlite_list_ms']} ms with quick_check, "
          f"{r['sqlite_integrity_check_list_ms']} ms with integrity_check (repair)")
    print(f"  one change (catalogue only, no duplicate listing): JSON read + rewrite {r['json_change_ms']} ms; "
          f"SQLite add {r['sqlite_add_ms']} ms, remove (validates every row) {r['sqlite_remove_ms']} ms")
    print(f"  files: JSON {r['json_bytes'] / 1024:.0f} KiB, SQLite {r['sqlite_bytes'] / 1024:.0f} KiB")
    result["load_average"] = list(os.getloadavg())
    print(f"saved {write_result('catalogue', result)}")


if __name__ == "__main__":
    main()
