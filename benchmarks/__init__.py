"""Benchmarks for MusicID: a reproducible song corpus from Debian packages and a phone-in-a-room
recording simulator. Nothing here is imported by the app; see ``benchmarks/LICENSES.md``."""
