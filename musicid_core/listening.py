"""The listening policy, without Qt: a stream of samples in, answers out.

Two policies share one protocol, so the Listen tab, ``musicid listen`` and any other front end
(a phone server) behave alike:

- ``SingleListening`` — one answer: once a model window (~5 s) has arrived the recording so far
  is identified every second, listening stops early when two successive answers agree on a
  clear match, and otherwise at ``max_seconds`` (or ``stop()``) with a final identification of
  everything heard.
- ``ContinuousListening`` — keeps listening: every ``interval_s`` the last ``window_s`` seconds
  are identified; a song is reported only when ``k`` of the last ``n`` answers name it (one
  odd answer in noise must not list a song), a change of song closes the previous entry with its
  end time, silence is skipped and closes what was playing, and music that is not in the
  library is reported once per stretch. The defaults come from ``benchmarks/continuous.py``.

Protocol. ``push(samples)`` takes new audio and returns answers that need no identification
(silence closing an entry); ``take_request()`` returns the identification due now, if any;
``complete(request, outcome)`` turns its result (or exception) into answers. Callers that can
block call ``feed(samples)``, which does all three with the session's ``identify``; the GUI runs
requests on a worker thread instead. Each request carries the session's generation: after
``reset()`` or ``stop()`` an older request's result is ignored. At most one request is in flight.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Optional, Union

import numpy as np

from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.recognizer import Identification

Identify = Callable[[np.ndarray], Identification]
Outcome = Union[Identification, BaseException]

REFINE_EVERY_S = 1.0
CLEAR_AGREEMENT = 0.8
"""A match is clear when this share of windows agrees, or when landmarks/profiles single it out."""

CONTINUOUS_WINDOW_S = 8.0
CONTINUOUS_INTERVAL_S = 1.0
CONTINUOUS_K = 3
CONTINUOUS_N = 3
CONTINUOUS_HOLD = 10
"""Window, interval and vote chosen from ``benchmarks/continuous.py`` (see benchmarks/RESULTS.md)."""
HOLD_DOC = """A song that is playing is closed by "not in your library" only when none of the last
``hold`` answers named it: in noise a library song has passages the recogniser cannot name, and
those must not split it in two (a change to another *song* needs only the k-of-n vote)."""
SILENCE_DBFS = -60.0
"""Quieter than this (RMS) counts as silence in continuous mode: digital silence of a monitor
source, or a quiet room through a microphone. Nothing is identified then."""
SILENCE_BREAK_S = 1.0
"""Silence at least this long ends what was playing (a song's own rests are shorter)."""
LEVEL_BLOCK_S = 0.25
UNKNOWN = "__unknown__"


@dataclass(frozen=True)
class Request:
    """One identification the session wants: ``audio`` ends ``ends_at`` seconds into the stream."""

    audio: np.ndarray
    generation: int
    ends_at: float
    final: bool


@dataclass(frozen=True)
class TimelineEntry:
    """What played from ``started`` to ``ended`` (seconds since listening began; None: still playing)."""

    started: float
    ended: Optional[float]
    verdict: str  # "match" | "unknown"
    identification: Identification
    source: str = ""
    clock_start: float = 0.0  # time.time() when listening began, for wall-clock times

    @property
    def title(self) -> str:
        return self.identification.best.song.title if self.verdict == "match" else ""

    @property
    def display_answer(self) -> str:
        return self.title if self.verdict == "match" else "Not in your library"

    def wall_time(self, offset: float) -> str:
        """ISO 8601 local time of a stream offset."""
        stamp = _dt.datetime.fromtimestamp(self.clock_start + offset).astimezone()
        return stamp.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Answer:
    """What a session has to say.

    ``kind``: ``refined`` (an interim ranking while listening once), ``final`` (the answer of a
    single listen; ``early`` when the evidence was clear before the time was up), ``heard`` (a
    continuous-mode interim ranking), ``started`` / ``ended`` (a timeline entry opened / closed),
    ``too_short`` (stopped before one model window), ``error`` (identification failed).
    """

    kind: str
    time: float  # seconds since listening began
    identification: Optional[Identification] = None
    seconds: float = 0.0  # how much audio the identification rests on
    early: bool = False
    entry: Optional[TimelineEntry] = None
    error: Optional[BaseException] = None

    def to_json(self, clock_start: float) -> dict:
        """The ``musicid listen --json`` object: ``matches`` as in ``identify --json``."""
        stamp = _dt.datetime.fromtimestamp(clock_start + self.time).astimezone().isoformat(timespec="seconds")
        result = self.entry.identification if self.entry is not None else self.identification
        out: dict = {"time": stamp, "event": self.kind}
        if result is not None:
            body = result.to_json("")
            verdict = self.entry.verdict if self.entry is not None else body["verdict"]
            out.update(verdict=verdict, matches=body["matches"])
        if self.entry is not None:
            entry = self.entry
            out.update(
                started=entry.wall_time(entry.started), ended=None if entry.ended is None else entry.wall_time(entry.ended),
                started_s=round(entry.started, 2), ended_s=None if entry.ended is None else round(entry.ended, 2),
                source=entry.source,
            )
        if self.error is not None:
            out["error"] = str(self.error)
        return out


def rms_dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-120.0, 20.0 * np.log10(max(rms, 1e-6)))


class ListeningSession:
    """What both policies share: stream time, generations, the one request in flight."""

    def __init__(self, identify: Optional[Identify] = None, settings: FeatureSettings = DEFAULT_FEATURES) -> None:
        self.identify = identify
        self.settings = settings
        self.generation = 0
        self.received = 0  # samples pushed since the start (or reset)
        self.clock_start = time.time()
        self.done = False
        self._in_flight = False

    @property
    def now(self) -> float:
        """Seconds of audio received."""
        return self.received / self.settings.sample_rate

    def reset(self) -> None:
        """Start over; results of requests taken before are ignored."""
        self.generation += 1
        self.received = 0
        self.clock_start = time.time()
        self.done = False
        self._in_flight = False

    def cancel(self) -> None:
        """Stop without answers (no final identification); results in flight are ignored."""
        self.generation += 1
        self.done = True
        self._in_flight = False

    def push(self, samples: np.ndarray) -> list[Answer]:
        raise NotImplementedError

    def take_request(self) -> Optional[Request]:
        raise NotImplementedError

    def complete(self, request: Request, outcome: Outcome) -> list[Answer]:
        """Answers from a request's result; [] for a stale request (older generation)."""
        if request.generation != self.generation:
            return []
        self._in_flight = False
        return self._answers(request, outcome)

    def _answers(self, request: Request, outcome: Outcome) -> list[Answer]:
        raise NotImplementedError

    def stop(self) -> list[Answer]:
        """Stop listening (synchronously identifying what is needed); the session is done."""
        answers = self.stop_nowait()
        request = self.take_request()
        if request is not None:
            answers += self.complete(request, self._run(request))
        return answers

    def stop_nowait(self) -> list[Answer]:
        """Stop; a final identification, if one is needed, is left to ``take_request``."""
        raise NotImplementedError

    def feed(self, samples: np.ndarray) -> list[Answer]:
        """Push samples and run the identification that is due, with ``self.identify``."""
        answers = self.push(samples)
        request = self.take_request()
        if request is not None:
            answers += self.complete(request, self._run(request))
        return answers

    def _run(self, request: Request) -> Outcome:
        if self.identify is None:
            raise RuntimeError("this session was made without an identify function; use take_request/complete")
        try:
            return self.identify(request.audio)
        except Exception as exc:  # noqa: BLE001 - handed back as an "error" answer
            return exc

    def _request(self, audio: np.ndarray, final: bool) -> Request:
        self._in_flight = True
        return Request(audio, self.generation, self.now, final)


class SingleListening(ListeningSession):
    """Listen once: refine every second, stop early on a clear answer, else at ``max_seconds``."""

    def __init__(self, identify: Optional[Identify] = None, max_seconds: float = 10.0,
                 settings: FeatureSettings = DEFAULT_FEATURES, refine_every_s: float = REFINE_EVERY_S) -> None:
        super().__init__(identify, settings)
        self.max_seconds = max_seconds
        self.refine_every_s = refine_every_s
        self._chunks: list[np.ndarray] = []
        self._last_refined = 0
        self._previous: Optional[Identification] = None
        self._final_due = False

    @property
    def limit(self) -> int:
        return int(self.max_seconds * self.settings.sample_rate)

    def reset(self) -> None:
        super().reset()
        self._chunks, self._last_refined, self._previous, self._final_due = [], 0, None, False

    def cancel(self) -> None:
        super().cancel()
        self._final_due = False

    def recording(self) -> np.ndarray:
        """Everything heard so far."""
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> list[Answer]:
        if self.done:
            return []
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)[: max(0, self.limit - self.received)]
        if samples.size:
            self._chunks.append(samples)
            self.received += samples.size
        if self.received >= self.limit:
            return self.stop_nowait()
        return []

    def take_request(self) -> Optional[Request]:
        if self._final_due:
            self._final_due = False
            self.generation += 1  # a refinement still running is overtaken by the final answer
            return self._request(self.recording(), final=True)
        if self.done or self._in_flight or self.received < self.settings.min_recording_samples:
            return None
        if self.received - self._last_refined < self.refine_every_s * self.settings.sample_rate:
            return None
        self._last_refined = self.received
        return self._request(self.recording(), final=False)

    def stop_nowait(self) -> list[Answer]:
        if self.done:
            return []
        self.done = True
        if self.received < self.settings.min_recording_samples:
            return [Answer("too_short", self.now, seconds=self.now)]
        self._final_due = True
        return []

    def _answers(self, request: Request, outcome: Outcome) -> list[Answer]:
        seconds = request.audio.size / self.settings.sample_rate
        if isinstance(outcome, BaseException):
            return [Answer("error", request.ends_at, seconds=seconds, error=outcome)]
        if request.final:
            return [Answer("final", request.ends_at, outcome, seconds)]
        if self.done:
            return []
        answers = [Answer("refined", request.ends_at, outcome, seconds)]
        if self._is_clear(outcome):
            self.done = True
            self.generation += 1
            answers.append(Answer("final", request.ends_at, outcome, seconds, early=True))
        self._previous = outcome
        return answers

    def _is_clear(self, result: Identification) -> bool:
        previous = self._previous
        # Two matches in a row for the same song are clear when the windows agree, or when the
        # recording's landmarks or tonal profile single out that song (the verdict demands a margin).
        return (
            result.verdict == "match"
            and (result.agreement >= CLEAR_AGREEMENT or result.fingerprint_margin is not None)
            and previous is not None
            and previous.verdict == "match"
            and previous.best.song.id == result.best.song.id
        )


@dataclass(frozen=True)
class _Vote:
    time: float  # end of the identified window
    label: str  # a song id or UNKNOWN
    identification: Identification


class ContinuousListening(ListeningSession):
    """Keep listening and keep a timeline of what played (module docstring)."""

    def __init__(self, identify: Optional[Identify] = None, settings: FeatureSettings = DEFAULT_FEATURES,
                 window_s: float = CONTINUOUS_WINDOW_S, interval_s: float = CONTINUOUS_INTERVAL_S,
                 k: int = CONTINUOUS_K, n: int = CONTINUOUS_N, hold: int = CONTINUOUS_HOLD, source: str = "",
                 silence_dbfs: float = SILENCE_DBFS) -> None:
        super().__init__(identify, settings)
        if not 1 <= k <= n:
            raise ValueError("need 1 <= k <= n")
        if window_s * settings.sample_rate < settings.window_samples:
            raise ValueError(f"the window must hold at least {settings.window_seconds:.1f} s")
        self.window_s, self.interval_s, self.k, self.n, self.hold = window_s, interval_s, k, n, hold
        self.source = source
        self.silence_dbfs = silence_dbfs
        self.timeline: list[TimelineEntry] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._buffer = np.zeros(0, dtype=np.float32)
        self._block = np.zeros(0, dtype=np.float32)
        self._blocks_done = 0
        self._sound_since = 0.0  # start of the current stretch of sound
        self._silent_since: Optional[float] = None  # start of the current run of silence
        self._last_sound = 0.0  # end of the last block with sound
        self._votes: deque[_Vote] = deque(maxlen=max(self.n, self.hold))
        self._last_tick = 0.0
        self.timeline = []

    def reset(self) -> None:
        super().reset()
        self._reset_state()

    @property
    def current(self) -> Optional[TimelineEntry]:
        """The entry still playing, if any."""
        return self.timeline[-1] if self.timeline and self.timeline[-1].ended is None else None

    @property
    def silent(self) -> bool:
        """Whether the stream is in a break of silence (at least ``SILENCE_BREAK_S``)."""
        return self._silent_since is not None and self.now - self._silent_since >= SILENCE_BREAK_S

    def push(self, samples: np.ndarray) -> list[Answer]:
        if self.done:
            return []
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        keep = int(self.window_s * self.settings.sample_rate)
        self._buffer = np.concatenate((self._buffer, samples))[-keep:]
        self.received += samples.size
        return self._track_level(samples)

    def _track_level(self, samples: np.ndarray) -> list[Answer]:
        """Follow silence in fixed blocks, so the answer does not depend on how audio is chunked."""
        block = int(LEVEL_BLOCK_S * self.settings.sample_rate)
        self._block = np.concatenate((self._block, samples))
        answers: list[Answer] = []
        while self._block.size >= block:
            chunk, self._block = self._block[:block], self._block[block:]
            start = self._blocks_done * LEVEL_BLOCK_S
            self._blocks_done += 1
            if rms_dbfs(chunk) < self.silence_dbfs:
                if self._silent_since is None:
                    self._silent_since = start
                if self._blocks_done * LEVEL_BLOCK_S - self._silent_since >= SILENCE_BREAK_S:
                    answers += self._close(self._silent_since)
                    self._votes.clear()
            else:
                if self._silent_since is not None and start - self._silent_since >= SILENCE_BREAK_S:
                    self._sound_since = start  # a new stretch of sound begins
                self._silent_since = None
                self._last_sound = start + LEVEL_BLOCK_S
        return answers

    def take_request(self) -> Optional[Request]:
        if self.done or self._in_flight or self.now - self._last_tick < self.interval_s:
            return None
        if self._silent_since is not None:
            return None  # silence (or the start of it) at the end of the window: nothing to identify
        # The window must lie within the current stretch of sound: a window half silence is a
        # partial song, which the recogniser often cannot name yet.
        if self.now - self._sound_since < self.window_s or self._buffer.size < self.settings.window_samples:
            return None
        self._last_tick = self.now
        return self._request(self._buffer.copy(), final=False)

    def _answers(self, request: Request, outcome: Outcome) -> list[Answer]:
        if isinstance(outcome, BaseException):
            return [Answer("error", request.ends_at, seconds=self.window_s, error=outcome)]
        if self.done:
            return []
        label = outcome.best.song.id if outcome.verdict == "match" else UNKNOWN
        self._votes.append(_Vote(request.ends_at, label, outcome))
        answers = [Answer("heard", request.ends_at, outcome, request.audio.size / self.settings.sample_rate)]
        winner = self._winner()
        current = self._current_label()
        if winner == UNKNOWN and current not in (None, UNKNOWN):
            recent = list(self._votes)[-self.hold:]
            if len(recent) < self.hold or any(v.label == current for v in recent):
                winner = None  # HOLD_DOC
        if winner is not None and winner != current:
            answers += self._open(winner)
        return answers

    def _current_label(self) -> Optional[str]:
        current = self.current
        if current is None:
            return None
        return current.identification.best.song.id if current.verdict == "match" else UNKNOWN

    def _winner(self) -> Optional[str]:
        """The label that ``k`` of the last ``n`` answers agree on, if any."""
        labels = [v.label for v in self._votes][-self.n:]
        for label in dict.fromkeys(reversed(labels)):  # newest first
            if labels.count(label) >= self.k:
                return label
        return None

    def _open(self, label: str) -> list[Answer]:
        votes = list(self._votes)
        current_label = self._current_label()
        since = max((i + 1 for i, v in enumerate(votes) if v.label == current_label), default=0)
        votes = [v for v in votes[since:] if v.label == label]  # this newcomer's run of answers
        first = votes[0]
        current = self.current
        if current is None:
            # after silence (or at the start) the stretch of sound is this song's
            started = self._sound_since
        else:
            # a change without a break: the recogniser names the newcomer once it fills about
            # half the window
            started = max(current.started, first.time - self.window_s / 2)
        answers = self._close(started) if current is not None else []
        best = max(votes, key=lambda v: v.identification.best.score).identification
        entry = TimelineEntry(started, None, "match" if label != UNKNOWN else "unknown", best, self.source, self.clock_start)
        self.timeline.append(entry)
        return answers + [Answer("started", self.now, best, self.window_s, entry=entry)]

    def _close(self, at: float) -> list[Answer]:
        current = self.current
        if current is None:
            return []
        closed = replace(current, ended=max(current.started, min(at, self._last_sound)))
        self.timeline[-1] = closed
        return [Answer("ended", self.now, closed.identification, entry=closed)]

    def stop_nowait(self) -> list[Answer]:
        if self.done:
            return []
        self.done = True
        self.generation += 1
        return self._close(self.now)
