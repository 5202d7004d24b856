"""Turn a clean song excerpt into what a phone in a noisy room would record.

The chain follows the physical path of the sound, so each step can be switched off to measure
what it costs the recogniser:

1. room: the loudspeaker's sound reaches the phone through a room (:func:`room_impulse_response`);
2. ambience: other sounds in the room are added at an exact signal-to-noise ratio, measured
   against the music *as it arrives at the microphone* (:func:`mix_at_snr`);
3. microphone: a phone's small capsule and its processing cut lows and highs and colour the
   rest (:func:`phone_colouring`);
4. converter: phones record at 44.1 or 48 kHz (:func:`resample`) at an arbitrary level, and
   loud rooms clip (:func:`apply_gain`);
5. app: recordings are often stored or sent through a lossy codec (:func:`codec_roundtrip`,
   via ffmpeg).

Everything is numpy/scipy except the codec step, which shells out to ``ffmpeg``. All randomness
comes from the ``numpy.random.Generator`` passed in, so a seed reproduces a recording exactly.
``room_impulse_response`` and ``phone_colouring`` are written to be reused as training
augmentation. Run ``python -m benchmarks.simulate`` for a self-check.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

from training.room import apply_reverb, phone_colouring, room_impulse_response  # noqa: F401 (re-exported)

CODECS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    # name: (ffmpeg encoder, container suffix, plausible low bitrates in kbit/s)
    "opus": ("libopus", ".ogg", (32, 48, 64)),
    "aac": ("aac", ".m4a", (32, 48, 64)),
    "mp3": ("libmp3lame", ".mp3", (32, 48, 64)),
}
OUTPUT_RATES: tuple[int, ...] = (44100, 48000)
REFERENCE_RMS_DBFS = -20.0


def rms(x: np.ndarray) -> float:
    """Root mean square in float64, so long float32 signals do not lose precision."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def measure_snr_db(signal_part: np.ndarray, noise_part: np.ndarray) -> float:
    """The SNR definition used throughout: ratio of RMS levels, in dB."""
    return 20.0 * math.log10(rms(signal_part) / max(rms(noise_part), 1e-20))


def fit_length(x: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """``n`` samples of ``x`` starting at ``offset``, wrapping around: short ambience clips loop."""
    if x.size == 0:
        raise ValueError("empty noise clip")
    return np.take(x, np.arange(offset, offset + n), mode="wrap")


def noise_bed(noise_clips: list[np.ndarray], n: int, rng: np.random.Generator, max_layers: int = 3) -> np.ndarray:
    """Sum of 1 to ``max_layers`` noise clips at random offsets and levels (within 6 dB).

    Rooms rarely have a single noise source, and layering makes a few clips give many
    different beds. Each clip is brought to unit RMS first, so quiet files still count.
    """
    if not noise_clips:
        raise ValueError("no noise clips given")
    k = int(rng.integers(1, min(max_layers, len(noise_clips)) + 1))
    bed = np.zeros(n, dtype=np.float64)
    for i in rng.choice(len(noise_clips), size=k, replace=False):
        clip = np.asarray(noise_clips[i], dtype=np.float64)
        layer = fit_length(clip, n, int(rng.integers(0, clip.size)))
        bed += layer / max(rms(layer), 1e-12) * 10.0 ** (rng.uniform(-6.0, 0.0) / 20.0)
    return bed


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr: float) -> tuple[np.ndarray, np.ndarray]:
    """(mixture, scaled noise) with ``rms(clean) / rms(scaled noise)`` exactly ``snr`` dB.

    Scaling the noise rather than the music keeps the music level unchanged, so the later
    gain stage alone decides the recording level.
    """
    clean_rms, noise_rms = rms(clean), rms(noise)
    if clean_rms < 1e-8:
        raise ValueError("clean excerpt is silent; SNR is undefined")
    if noise_rms < 1e-12:
        raise ValueError("noise is silent; SNR is undefined")
    scaled = noise * (clean_rms / noise_rms / 10.0 ** (snr / 20.0))
    return clean + scaled, scaled


def apply_gain(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Bring the recording to ``REFERENCE_RMS_DBFS + gain_db`` and hard-clip at full scale.

    Normalising first makes ``gain_db`` mean the same thing whatever the excerpt's loudness;
    clipping is kept because loud rooms do overdrive phone inputs.
    """
    target = 10.0 ** ((REFERENCE_RMS_DBFS + gain_db) / 20.0)
    return np.clip(x * (target / max(rms(x), 1e-12)), -1.0, 1.0)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (exact rational ratio, built-in anti-aliasing filter)."""
    if sr_in == sr_out:
        return x
    ratio = Fraction(sr_out, sr_in)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator)


def codec_roundtrip(x: np.ndarray, sr: int, codec: str, bitrate_kbps: int, *, exact_length: bool = True) -> np.ndarray:
    """Encode with ffmpeg at a low bitrate and decode back to float32 at ``sr``.

    Apps that share or upload recordings compress them; lossy codecs drop quiet partials and
    smear transients, which fingerprint-like features are sensitive to. Encoder priming is
    trimmed by ffmpeg from the container metadata; ``exact_length`` pads or cuts the last few
    samples so the result lines up with the input.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {sorted(CODECS)}")
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is required for codec simulation")
    encoder, suffix, _ = CODECS[codec]
    raw = np.ascontiguousarray(x, dtype="<f4").tobytes()
    with tempfile.TemporaryDirectory(prefix="musicid-codec-") as tmp:
        encoded = Path(tmp) / f"rec{suffix}"
        _ffmpeg(
            [
                "-f",
                "f32le",
                "-ar",
                str(sr),
                "-ac",
                "1",
                "-i",
                "pipe:0",
                "-c:a",
                encoder,
                "-b:a",
                f"{bitrate_kbps}k",
                str(encoded),
            ],
            raw,
        )
        decoded = _ffmpeg(["-i", str(encoded), "-f", "f32le", "-ac", "1", "-ar", str(sr), "pipe:1"], b"")
    y = np.frombuffer(decoded, dtype="<f4").astype(np.float32)
    return fit_length_exact(y, x.size) if exact_length else y


def fit_length_exact(y: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad to ``n`` samples (codecs add or drop a frame's worth at the end)."""
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))


def _ffmpeg(args: list[str], stdin: bytes) -> bytes:
    """Run ffmpeg quietly, raising with its own message on failure."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args]
    result = subprocess.run(cmd, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def simulate_recording(
    clean: np.ndarray,
    sr: int,
    noise_clips: list[np.ndarray],
    snr_db: float,
    rng: np.random.Generator,
    *,
    reverb: bool = True,
    band_limit: bool = True,
    codec: str | None = None,
    out_sr: int | None = None,
    gain_db: float | None = None,
    rt60: float | None = None,
    bitrate_kbps: int | None = None,
) -> tuple[np.ndarray, int]:
    """What a phone records when ``clean`` plays in a room with ``noise_clips`` around it.

    ``clean`` and every noise clip are mono float arrays at ``sr`` (22050 Hz in MusicID).
    Parameters left as ``None`` are drawn from ``rng``: RT60 in 0.2–0.8 s, output rate 44.1 or
    48 kHz, gain in −15…+3 dB around −20 dBFS RMS, bitrate from the codec's low range. The SNR
    is exact at the microphone (reverberant music vs summed ambience), before the microphone
    colouring and codec alter both. Gain and clipping come after resampling, as in a phone's
    converter, so the result never exceeds full scale. Returns float32 audio and its sample rate.
    """
    x = np.asarray(clean, dtype=np.float64)
    if reverb:
        rt = rng.uniform(0.2, 0.8) if rt60 is None else rt60
        x = apply_reverb(x, room_impulse_response(sr, rt, rng))
    x, _ = mix_at_snr(x, noise_bed(noise_clips, x.size, rng), snr_db)
    if band_limit:
        x = phone_colouring(x, sr, rng)
    rate = int(rng.choice(OUTPUT_RATES)) if out_sr is None else out_sr
    x = resample(x, sr, rate)
    x = apply_gain(x, rng.uniform(-15.0, 3.0) if gain_db is None else gain_db).astype(np.float32)
    if codec is not None:
        kbps = int(rng.choice(CODECS[codec][2])) if bitrate_kbps is None else bitrate_kbps
        x = np.clip(codec_roundtrip(x, rate, codec, kbps), -1.0, 1.0)
    return x.astype(np.float32), rate


def self_check(seed: int = 0) -> None:
    """Assert the SNR is exact (±0.1 dB) and codec round-trips keep the length (±1 %); print levels."""
    rng = np.random.default_rng(seed)
    sr, n = 22050, 22050 * 6
    t = np.arange(n) / sr
    clean = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    clips = [
        rng.standard_normal(sr * 3).astype(np.float32) * 0.05,
        np.cumsum(rng.standard_normal(sr * 4)).astype(np.float32) * 1e-3,
    ]
    for target in (-5.0, 0.0, 5.0, 10.0, 20.0):
        mixed, noise = mix_at_snr(clean, noise_bed(clips, n, rng), target)
        measured = measure_snr_db(mixed - noise, noise)
        assert abs(measured - target) < 0.1, (target, measured)
        print(f"SNR asked {target:+5.1f} dB, measured {measured:+7.3f} dB")
    for rt in (0.2, 0.5, 0.8):
        rir = room_impulse_response(sr, rt, rng)
        assert abs(np.sum(rir**2) - 1.0) < 1e-9
        print(f"RIR rt60 {rt:.1f} s: {rir.size} taps, direct {rir[0]:.2f}, energy {np.sum(rir**2):.3f}")
    for codec in (None, *CODECS):
        for rate in OUTPUT_RATES:
            y, out = simulate_recording(clean, sr, clips, 5.0, rng, codec=codec, out_sr=rate)
            expected = n * out // sr
            assert out == rate and abs(y.size - expected) <= 0.01 * expected, (codec, y.size, expected)
            assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
            level = 20 * np.log10(rms(y))
            line = f"{codec or 'none':5s} @ {rate} Hz: {y.size} samples (expected {expected}), RMS {level:6.1f} dBFS"
            if codec:
                raw = codec_roundtrip(
                    resample(clean.astype(np.float64), sr, rate).astype(np.float32), rate, codec, 32, exact_length=False
                )
                assert abs(raw.size - expected) <= 0.01 * expected, (codec, raw.size, expected)
                line += f"; raw decode {raw.size} samples ({100 * (raw.size / expected - 1):+.2f} %)"
            print(line)
    print("self-check passed")


if __name__ == "__main__":
    self_check(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
