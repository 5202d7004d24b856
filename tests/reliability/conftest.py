"""Reliability section: prints how many faults were injected and inputs tried, per kind."""

from __future__ import annotations

from typing import Any

from reliability_helpers import COUNTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("reliability: faults injected and inputs tried")
    for kind, number in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{kind:<48} {number:6d}")
    terminalreporter.write_line(f"{'TOTAL':<48} {sum(COUNTS.values()):6d}")
