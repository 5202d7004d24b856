"""Titles from tags, through mutagen, which reads ID3, Vorbis comments, MP4 atoms and FLAC
alike; a file without a title tag is named after its stem, as a music player would."""

from __future__ import annotations

from pathlib import Path


def read_title(path: Path) -> tuple[str, str]:
    """(title, artist) from the file's tags, falling back to (file stem, "")."""
    title, artist = "", ""
    try:
        import mutagen

        tags = mutagen.File(str(path), easy=True)
        if tags is not None and tags.tags is not None:
            title = _first(tags.tags.get("title"))
            artist = _first(tags.tags.get("artist"))
    except Exception:  # noqa: BLE001 - tags are a nicety; any tag parser failure means "no tags"
        pass
    return (title.strip() or path.stem), artist.strip()


def _first(value: object) -> str:
    if isinstance(value, list) and value:
        return str(value[0])
    return str(value) if isinstance(value, str) else ""
