"""``musicid listen``: identify what a microphone, or this computer's sound, is playing.

The listening policy is ``musicid_core.listening`` (the same as the Listen tab's); this module
opens the input, feeds it, prints answers and stops cleanly on Ctrl+C (SIGINT) or SIGTERM: what
was playing is closed with its end time before the command exits 0. The model is loaded and run
once before the input opens, so TensorFlow's first tracing never overlaps the audio stream.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any


from musicid_core.audio.capture import COMPUTER, Capture, InputDevice, choose_device, list_input_devices
from musicid_core.errors import MusicIdError
from musicid_core.features import recording_length_problem

if TYPE_CHECKING:
    from musicid_core.listening import Answer, ListeningSession

POLL_S = 0.05


def add_parser(commands: Any, positive_int: Any) -> None:
    listen = commands.add_parser("listen", help="identify what a microphone or this computer's sound plays")
    listen.add_argument("--device", metavar="NAME",
                        help="input to record from: a name from --list-devices, or part of one "
                             "(e.g. 'computer' for this computer's sound); default: the system default input")
    listen.add_argument("--list-devices", action="store_true", help="list microphones and this computer's sound sources")
    listen.add_argument("--seconds", type=float, metavar="S", default=None,
                        help="listen at most S seconds (default: 10 for one answer; until Ctrl+C with --continuous)")
    listen.add_argument("--continuous", action="store_true",
                        help="keep listening and report each song as it starts and ends")
    listen.add_argument("--json", action="store_true",
                        help="one JSON object per answer (time, verdict, matches; started/ended when continuous)")
    listen.add_argument("--top", type=positive_int, default=5, metavar="K", help="how many songs to rank (default: 5)")


def print_devices(devices: list[InputDevice]) -> None:
    for title, kind in (("Microphones", "microphone"), ("This computer's sound", COMPUTER)):
        group = [d for d in devices if d.kind == kind]
        print(f"{title}:")
        for device in group:
            print(f"  {device.name}{'  (default)' if device.is_default else ''}")
        if not group:
            print("  none found" + (" (see docs/gui.md: this computer's sound)" if kind == COMPUTER else ""))


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes the answer in hand, then closes everything."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def cmd_listen(library: Any, args: argparse.Namespace) -> int:
    devices = list_input_devices()
    if args.list_devices:
        print_devices(devices)
        return 0
    device = choose_device(args.device, devices) if args.device else None
    if args.seconds is not None and args.seconds <= 0:
        raise MusicIdError("--seconds must be positive")
    from musicid_core.listening import ContinuousListening, SingleListening
    from musicid_cli.progressbar import occasional_lines
    from musicid_core.models.current import CurrentRecognizer
    from training.enrolment import recalibrate_if_outdated

    # Loaded and run once before the input opens (songs analysed first after an upgrade).
    recognizer = CurrentRecognizer(library, recalibrate_if_outdated).current(progress=occasional_lines("Preparing the songs"))
    identify = lambda audio: recognizer.identify(audio, top_k=args.top)  # noqa: E731
    source = device.name if device is not None else "system default input"
    session: ListeningSession
    if args.continuous:
        session = ContinuousListening(identify, source=source)
    else:
        session = SingleListening(identify, max_seconds=args.seconds or 10.0)
    limit = args.seconds if args.continuous else None
    capture = Capture(device)
    with _StopFlag() as stop:
        capture.start()
        session.reset()  # the session's clock starts with the stream
        print(f"listening to {source}" + (" (Ctrl+C stops)" if args.continuous else "") + "…",
              file=sys.stderr, flush=True)
        failures = 0
        try:
            while not session.done and not stop.event.is_set():
                time.sleep(POLL_S)
                for answer in session.feed(capture.read()):
                    failures += report(answer, session, args.json)
                if limit is not None and session.now >= limit:
                    break
        finally:
            tail = capture.read()
            capture.stop()
        answers = session.feed(tail) if not session.done else []
        for answer in answers + session.stop():
            failures += report(answer, session, args.json)
    return 1 if failures and not args.continuous else 0


def _clock(session: ListeningSession, offset: float) -> str:
    return _dt.datetime.fromtimestamp(session.clock_start + offset).strftime("%H:%M:%S")


def report(answer: Answer, session: ListeningSession, as_json: bool) -> int:
    """Print one answer; returns 1 for a failure (said on stderr), else 0."""
    if answer.kind in ("refined", "heard"):
        return 0
    if answer.kind == "error":
        print(f"musicid: error: {answer.error}", file=sys.stderr, flush=True)
        return 1
    if answer.kind == "too_short":
        problem = recording_length_problem(session.received, session.settings) or "the recording is too short"
        print(f"musicid: error: {problem}", file=sys.stderr, flush=True)
        return 1
    if as_json:
        print(json.dumps(answer.to_json(session.clock_start), ensure_ascii=False), flush=True)
        return 0
    if answer.entry is not None:
        entry = answer.entry
        span = f"{_clock(session, entry.started)}–{_clock(session, entry.ended)}" if entry.ended is not None else (
            f"since {_clock(session, entry.started)}")
        print(f"{_clock(session, answer.time)}  {answer.kind:<7}  {entry.display_answer}  ({span})", flush=True)
        return 0
    result = answer.identification
    assert result is not None
    verdict = "not in your library" if result.verdict == "unknown" else "match"
    early = ", answered early: the evidence was clear" if answer.early else ""
    print(f"{verdict} after {answer.seconds:.1f} s{early}")
    for rank, match in enumerate(result.matches, 1):
        print(f"  {rank}. {match.song.title}  [{match.song.source}]  {match.score:.3f}")
    sys.stdout.flush()
    return 0
