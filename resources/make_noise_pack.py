"""Build MusicID's default ambient-noise pack (``resources/noise/*.ogg``), reproducibly.

The app mixes these clips into training fragments when the user has added no noise of their own,
so they should cover the rooms people identify music in: street, rain, wind, pub chatter, a
humming flat, a kitchen, birds, a fire. Two sources:

* four recordings from Debian's ``wesnoth-1.16-data`` (``data/core/sounds/ambient/``, GPL-2+),
  fetched with ``apt-get download`` through ``benchmarks.corpus``; which ones is
  ``benchmarks.corpus.DEFAULT_PACK_AMBIENT``, so the benchmark never queries with them;
* noises synthesised here with numpy, sox (reverb) and espeak-ng (babble voices), seeded.

Every clip is mono, 22050 Hz (MusicID's analysis rate), Ogg Vorbis, normalised to the same RMS
level, and written with ffmpeg's bit-exact flags so reruns give identical files.

    python resources/make_noise_pack.py [--out DIR] [--seed N] [--no-ambient] [--cache DIR]

Another seed gives different realisations (other sentences, gusts, cars): the benchmark can use
``--seed 1 --no-ambient --out DIR`` for synthetic *query* noise the app was not trained on.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.corpus import AMBIENT_DIR, DEFAULT_PACK_AMBIENT, NOISE_PACKAGE, default_cache_dir, ensure_package  # noqa: E402

SR = 22050
TARGET_RMS_DBFS = -24.0
PEAK_LIMIT = 0.89  # -1 dBFS

SENTENCES: dict[str, list[str]] = {
    "en-gb": [
        "Did you see the match last night? It went on forever.",
        "Two more pints over here, and a lemonade for my sister.",
        "I told him the train was late again, but he would not listen.",
        "We should book the table for eight, the place fills up quickly.",
    ],
    "en-us": [
        "So then she says the whole project is due on Monday.",
        "Can you pass the salt, and maybe the bread while you are at it?",
        "Honestly the weather this week has been absolutely terrible.",
    ],
    "de": ["Wir treffen uns morgen um halb acht vor dem Kino.", "Das Essen war wirklich gut, aber viel zu teuer."],
    "fr": [
        "Tu viens avec nous ce soir ou tu restes à la maison ?",
        "Il fait beau aujourd'hui, on pourrait manger dehors.",
    ],
    "es": ["No sé dónde dejé las llaves, las tenía hace un momento.", "Mañana vamos a la playa si no llueve."],
    "it": ["Ho prenotato un tavolo per quattro persone alle nove.", "Questa canzone la sentivo sempre da ragazzo."],
    "nl": ["Zullen we straks nog even langs de markt gaan?"],
}
VARIANTS = ("m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "f5")


# --- small building blocks --------------------------------------------------------------------


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise, the raw material of every synthetic texture."""
    return rng.standard_normal(n)


def coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power ∝ 1/f**exponent (1 = pink, 2 = brown), shaped in the frequency domain."""
    spectrum = np.fft.rfft(white(n, rng))
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    freqs[0] = freqs[1]
    return np.fft.irfft(spectrum / freqs ** (exponent / 2.0), n)


def band(x: np.ndarray, low: float | None, high: float | None, order: int = 4) -> np.ndarray:
    """Butterworth band/low/high-pass, zero-phase so envelopes are not delayed."""
    if low and high:
        sos = signal.butter(order, [low, high], "bandpass", fs=SR, output="sos")
    elif low:
        sos = signal.butter(order, low, "highpass", fs=SR, output="sos")
    else:
        sos = signal.butter(order, high, "lowpass", fs=SR, output="sos")
    return signal.sosfiltfilt(sos, x)


def slow_envelope(n: int, rng: np.random.Generator, rate_hz: float, depth_db: float) -> np.ndarray:
    """A smooth random gain curve (±``depth_db``) varying at about ``rate_hz``: gusts, swells."""
    knots = max(int(n / SR * rate_hz) + 4, 4)
    curve = signal.resample(rng.standard_normal(knots), n * 2)[n // 2 : n // 2 + n]
    curve /= max(np.max(np.abs(curve)), 1e-12)
    return 10.0 ** (depth_db * curve / 20.0)


def events(
    n: int,
    rng: np.random.Generator,
    rate_hz: float,
    kernel: Callable[[np.random.Generator], np.ndarray],
    level_db: tuple[float, float],
) -> np.ndarray:
    """Sum of short sounds at Poisson-random times: clicks, drops, clinks (one loop per event)."""
    out = np.zeros(n + SR)
    for start in np.sort(rng.integers(0, n, size=rng.poisson(rate_hz * n / SR))):
        k = kernel(rng) * 10.0 ** (rng.uniform(*level_db) / 20.0)
        out[start : start + k.size] += k
    return out[:n]


def decaying_noise(rng: np.random.Generator, ms: float, low: float, high: float) -> np.ndarray:
    """A short band-limited burst with exponential decay: a drop, a crackle, a tap."""
    m = max(int(ms * SR / 1000), 8)
    burst = band(white(m + 64, rng), low, min(high, 0.45 * SR), order=2)[64:]
    return burst * np.exp(-np.arange(m) / (m / 5.0))


def ring(rng: np.random.Generator, ms: float) -> np.ndarray:
    """A few damped partials: cutlery, glasses and plates ringing after a knock."""
    m = int(ms * SR / 1000)
    t = np.arange(m) / SR
    freqs = rng.uniform(1500.0, 7000.0, size=3) * np.array([1.0, 1.48, 2.31])[rng.permutation(3)]
    freqs = np.minimum(freqs, 0.45 * SR)
    decay = rng.uniform(15.0, 60.0, size=3)
    partials = np.sin(2 * np.pi * freqs[:, None] * t) * np.exp(-decay[:, None] * t) * rng.uniform(0.3, 1.0, (3, 1))
    return partials.sum(axis=0) + 0.5 * np.pad(decaying_noise(rng, 6, 1000, 9000), (0, m))[:m]


def run(cmd: list[str], stdin: bytes | None = None) -> bytes:
    """Run an external tool, failing loudly with its own error message."""
    result = subprocess.run(cmd, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def load_mono(path: Path) -> np.ndarray:
    """Decode any audio file to mono float64 at ``SR`` (ffmpeg handles resampling and downmix)."""
    raw = run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-f",
            "f64le",
            "-ac",
            "1",
            "-ar",
            str(SR),
            "pipe:1",
        ]
    )
    return np.frombuffer(raw, dtype="<f8").copy()


def sox_reverb(x: np.ndarray, reverberance: int, room_scale: int = 100) -> np.ndarray:
    """sox's Freeverb-style reverb: puts synthetic voices into a believable room."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(src, x.astype(np.float32), SR, subtype="FLOAT")
        run(["sox", str(src), str(dst), "reverb", str(reverberance), "50", str(room_scale)])
        y, _ = sf.read(dst, dtype="float64")
    return y[: x.size] if y.ndim == 1 else y[: x.size].mean(axis=1)


# --- the textures -----------------------------------------------------------------------------


def traffic(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Street rumble: low-passed brown noise breathing slowly, plus cars swelling past."""
    n = int(seconds * SR)
    rumble = band(coloured(n, rng, 2.0), 25.0, 400.0) * slow_envelope(n, rng, 0.15, 4.0)
    rumble /= np.std(rumble)
    t = np.arange(n) / SR
    cars = np.zeros(n)
    for centre in np.sort(rng.uniform(0, seconds, size=max(int(seconds / 4), 2))):
        width = rng.uniform(1.0, 2.5)
        tone = band(coloured(n, rng, 1.0), 60.0, rng.uniform(900.0, 2000.0))
        cars += tone / np.std(tone) * np.exp(-0.5 * ((t - centre) / width) ** 2) * rng.uniform(0.5, 1.2)
    return rumble + cars


def rain(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Rain on a window: hissing filtered white noise plus many tiny drop crackles."""
    n = int(seconds * SR)
    hiss = band(white(n, rng), 400.0, 8000.0) * slow_envelope(n, rng, 0.1, 2.0)
    hiss /= np.std(hiss)
    drops = events(n, rng, 120.0, lambda r: decaying_noise(r, r.uniform(2, 12), 800, 10000), (-12.0, 6.0))
    return hiss + 0.8 * drops / max(np.std(drops), 1e-12)


def wind(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Wind: band-passed noise under slow gusts; the gusts also brighten it (a second band)."""
    n = int(seconds * SR)
    gust = slow_envelope(n, rng, 0.3, 10.0)
    low = band(coloured(n, rng, 1.0), 60.0, 700.0)
    high = band(white(n, rng), 700.0, 2500.0, order=2)
    return low / np.std(low) * gust + 0.3 * high / np.std(high) * gust**2


def room_tone(seconds: float, rng: np.random.Generator, mains_hz: float = 50.0) -> np.ndarray:
    """An indoor room: pink noise, a ventilation fan band, and mains hum at 1× and 2× the grid frequency."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    pink = coloured(n, rng, 1.0)
    fan = band(white(n, rng), 150.0, 1500.0, order=2) * slow_envelope(n, rng, 0.05, 1.5)
    wobble = 1.0 + 0.002 * np.sin(2 * np.pi * 0.2 * t)
    hum = (
        np.sin(2 * np.pi * mains_hz * wobble * t)
        + 0.6 * np.sin(2 * np.pi * 2 * mains_hz * t + 0.3)
        + 0.2 * np.sin(2 * np.pi * 3 * mains_hz * t + 1.1)
    )
    return 0.6 * pink / np.std(pink) + 0.5 * fan / np.std(fan) + 0.8 * hum / np.std(hum)


def kitchen(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A kitchen: clinks of cutlery and plates, knocks, a tap running for a while, fridge hum."""
    n = int(seconds * SR)
    clinks = events(n, rng, 2.5, lambda r: ring(r, r.uniform(80, 300)), (-10.0, 0.0))
    knocks = events(n, rng, 1.0, lambda r: decaying_noise(r, r.uniform(20, 60), 80, 1500), (-6.0, 0.0))
    tap = band(white(n, rng), 1000.0, 6000.0, order=2)
    start, stop = sorted(rng.uniform(0, n, size=2).astype(int))
    gate = np.zeros(n)
    gate[start:stop] = 1.0
    gate = np.convolve(gate, np.hanning(SR // 4) / np.sum(np.hanning(SR // 4)), mode="same")
    fridge = band(coloured(n, rng, 1.0), 40.0, 300.0)
    return (
        clinks / max(np.std(clinks), 1e-12)
        + 0.6 * knocks / max(np.std(knocks), 1e-12)
        + 0.25 * tap / np.std(tap) * gate
        + 0.15 * fridge / np.std(fridge)
    )


def speak(text: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    """One espeak-ng utterance as mono float64 at ``SR``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text])
        return load_mono(wav)


def babble(seconds: float, rng: np.random.Generator, voices: int, reverberance: int) -> np.ndarray:
    """Pub or crowd chatter: several espeak-ng speakers (languages, pitches, speeds, sentences
    all drawn from ``rng``), each talking with pauses from a random start, mixed and reverberated."""
    n = int(seconds * SR)
    mix = np.zeros(n)
    languages = sorted(SENTENCES)
    for _ in range(voices):
        lang = languages[int(rng.integers(len(languages)))]
        voice = f"{lang}+{VARIANTS[int(rng.integers(len(VARIANTS)))]}"
        pitch, speed = int(rng.integers(20, 80)), int(rng.integers(130, 200))
        talk = []
        while sum(map(len, talk)) < n * 1.5:
            talk.append(speak(str(rng.choice(SENTENCES[lang])), voice, pitch, speed))
            talk.append(np.zeros(int(rng.uniform(0.2, 1.5) * SR)))
        speech = np.concatenate(talk)
        start = int(rng.integers(0, speech.size - n))
        mix += speech[start : start + n] / max(np.std(speech), 1e-12) * 10.0 ** (rng.uniform(-8.0, 0.0) / 20.0)
    return sox_reverb(mix / np.max(np.abs(mix)) * 0.5, reverberance)


# --- the pack ---------------------------------------------------------------------------------


def synthetic_noises(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Name → clip for every generated texture (10–30 s each)."""
    return {
        "synth-traffic": traffic(25.0, rng),
        "synth-rain": rain(20.0, rng),
        "synth-wind": wind(25.0, rng),
        "synth-roomtone-hvac-50hz": room_tone(15.0, rng, 50.0),
        "synth-roomtone-hvac-60hz": room_tone(15.0, rng, 60.0),
        "synth-kitchen": kitchen(20.0, rng),
        "synth-babble-pub": babble(25.0, rng, voices=6, reverberance=40),
        "synth-babble-crowd": babble(25.0, rng, voices=12, reverberance=80),
    }


def ambient_noises(cache: Path | None) -> dict[str, np.ndarray]:
    """Name → clip for the Wesnoth ambience in the default pack (downloaded on first use)."""
    root = ensure_package(NOISE_PACKAGE, cache or default_cache_dir()) / AMBIENT_DIR
    return {f"ambient-{Path(name).stem}": load_mono(root / name) for name in DEFAULT_PACK_AMBIENT}


def normalise(x: np.ndarray) -> np.ndarray:
    """Same RMS for every clip (so none dominates training) with the peak kept below -1 dBFS."""
    x = x - np.mean(x)
    x = x * (10.0 ** (TARGET_RMS_DBFS / 20.0) / max(float(np.sqrt(np.mean(x**2))), 1e-12))
    peak = float(np.max(np.abs(x)))
    return x * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else x


def fade(x: np.ndarray, seconds: float = 0.05) -> np.ndarray:
    """Short fades so looping a clip during augmentation never clicks."""
    m = min(int(seconds * SR), x.size // 2)
    ramp = np.linspace(0.0, 1.0, m)
    x = x.copy()
    x[:m] *= ramp
    x[x.size - m :] *= ramp[::-1]
    return x


def write_ogg(path: Path, x: np.ndarray, quality: int = 3) -> None:
    """Ogg Vorbis via ffmpeg with bit-exact flags, so the same samples give the same bytes."""
    run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
            str(SR),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libvorbis",
            "-q:a",
            str(quality),
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            "-map_metadata",
            "-1",
            str(path),
        ],
        x.astype("<f4").tobytes(),
    )


def build_pack(out: Path, seed: int = 0, with_ambient: bool = True, cache: Path | None = None) -> list[Path]:
    """Generate every clip into ``out`` and return the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    clips = synthetic_noises(np.random.default_rng(seed))
    if with_ambient:
        clips |= ambient_noises(cache)
    written = []
    for name, clip in sorted(clips.items()):
        path = out / f"{name}.ogg"
        write_ogg(path, fade(normalise(clip)))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "noise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ambient", action="store_true", help="only the synthetic noises (no download)")
    parser.add_argument("--cache", type=Path, default=None, help="benchmark cache holding the Debian packages")
    args = parser.parse_args(argv)
    total = 0
    for path in build_pack(args.out, args.seed, not args.no_ambient, args.cache):
        info = sf.info(str(path))
        audio, _ = sf.read(str(path), dtype="float64")
        level = 20 * math.log10(float(np.sqrt(np.mean(audio**2))))
        peak = 20 * math.log10(float(np.max(np.abs(audio))))
        total += path.stat().st_size
        print(
            f"{path.name:32s} {info.duration:5.1f} s {info.samplerate} Hz {info.channels} ch "
            f"RMS {level:6.1f} dBFS peak {peak:5.1f} dBFS {path.stat().st_size / 1024:6.0f} KiB"
        )
    print(f"total {total / 1024 / 1024:.2f} MiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
