"""Build ``resources/negatives/``: short excerpts of music that is *not* anybody's library.

Why: a softmax classifier always names one of its songs. Training it with an extra "not in
your library" class, fed with real music it must not claim (outlier exposure, Hendrycks et al.
2019) and with noise-only mixes, is what lets MusicID answer "unknown" for a stranger.

The excerpts come from the allowed Debian game-music packages, never from the demo songs, and
their ids are written to ``sources.json`` so the benchmark keeps them out of both its enrolled
library and its non-enrolled queries. Reproducible: ``python -m resources.make_negatives``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.corpus import SongFile, ensure_corpus, song_group

OUT = Path(__file__).resolve().parent / "negatives"
COUNT = 18
EXCERPT_SECONDS = 20
DEMO_FILES = frozenset({
    "wanderer.ogg", "northerners.ogg", "hr-savino-caribbean.ogg", "hr3-caves.ogg",
    "music004.ogg", "music007.ogg", "track2.ogg", "track11.ogg",
})


def choose(songs: list[SongFile]) -> list[SongFile]:
    """Every k-th song (sorted by id, one per version group), spread over all packages."""
    candidates, seen = [], set()
    for song in sorted(songs, key=lambda s: s.song_id):
        group = song_group(song)
        if song.path.name in DEMO_FILES or group in seen:
            continue
        seen.add(group)
        candidates.append(song)
    step = len(candidates) / COUNT
    return [candidates[int(i * step)] for i in range(COUNT)]


def encode(song: SongFile, target: Path) -> None:
    start = max(0.0, min(song.duration_s / 2 - EXCERPT_SECONDS / 2, song.duration_s - EXCERPT_SECONDS))
    subprocess.run(
        ["sox", str(song.path), "-r", "22050", "-c", "1", "-C", "0", str(target),
         "trim", f"{start:.1f}", str(EXCERPT_SECONDS), "fade", "0.2", "-0", "0.2"],
        check=True,
    )


def main() -> None:
    corpus = ensure_corpus()
    chosen = choose(corpus.songs)
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.ogg"):
        old.unlink()
    rows = []
    for number, song in enumerate(chosen):
        name = f"negative{number:02d}.ogg"
        encode(song, OUT / name)
        rows.append({"file": name, "song_id": song.song_id, "package": song.package,
                     "licence": song.licence, "copyright": song.copyright})
    (OUT / "sources.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Negative examples (\"not in your library\" class)", "",
             f"{COUNT} excerpts of {EXCERPT_SECONDS} s, mono 22050 Hz Ogg Vorbis, made by "
             "`python -m resources.make_negatives` from Debian's game-music packages.", "",
             "| file | source (package/file) | licence | copyright |", "|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['song_id']} | {r['licence']} | {r['copyright']} |" for r in rows]
    (OUT / "LICENSE.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} excerpts to {OUT}")


if __name__ == "__main__":
    main()
