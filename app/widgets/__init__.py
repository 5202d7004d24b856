"""Reusable widgets of the MusicID window."""
