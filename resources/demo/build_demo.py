"""Rebuild the shipped demo: song excerpts, the model trained on them, noisy demo recordings.

Run from the repository root (one command; ~6-10 min on a 2-core CPU)::

    .venv/bin/python resources/demo/build_demo.py

Why a script: the demo model must be retrained whenever features, architectures or training
change, and its labels must be the library ids of exactly the shipped excerpt files (the first
12 hex digits of each file's SHA-256). So this script writes the excerpts, enrols *those files*
into a throw-away library, trains there with the real ``training.train.train``, and copies the
bundle verbatim. Nothing is hand-edited afterwards.

Songs come only from four freely licensed Debian packages (see ``LICENSE.md``, which this
script also writes). Packages are fetched with ``apt-get download`` and unpacked with
``dpkg -x`` into a cache folder; nothing is installed.

The noisy recordings mix an excerpt (taken from the original full-quality track) with
*synthesised* babble, clatter and room tone at ~5 dB SNR, with a short room reverb. None of that noise is in the default
noise pack the model was trained with, so "identify a file" is an honest example.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parent
ROOT = DEMO.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from musicid_core.config import SAMPLE_RATE  # noqa: E402

EXCERPT_SECONDS = 45.0
RECORDING_SECONDS = 10.0
RECORDING_SNR_DB = 5.0
VORBIS_QUALITY_SONG = "0"  # ~30 kbit/s mono at 22 kHz: small, still clean enough to enrol
VORBIS_QUALITY_RECORDING = "1"
DEFAULT_EPOCHS = 8
DEFAULT_EXAMPLES_PER_SONG = 160
EVAL_CLIPS_PER_SONG = 6

WESNOTH_DOC = "usr/share/doc/wesnoth-1.16-music/copyright"
HYPERROGUE_DOC = "usr/share/doc/hyperrogue-music/copyright"
BLUPI_DOC = "usr/share/doc/planetblupi-music-ogg/copyright"
DRASCULA_DOC = "usr/share/doc/drascula-music/copyright"


@dataclass(frozen=True)
class Pick:
    """One demo song: where it comes from and which stretch of it we ship."""

    slug: str
    package: str
    source: str  # path inside the unpacked package
    start: float  # seconds into the track
    title: str
    artist: str
    license: str
    copyright: str
    copyright_file: str


PICKS: tuple[Pick, ...] = (
    Pick("wesnoth-wanderer", "wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music/wanderer.ogg",
         40.0, "Still Another Wanderer", "Timothy Pinkham", "GPL-2+",
         "Timothy Pinkham; The Battle for Wesnoth project (David White et al.)", WESNOTH_DOC),
    Pick("wesnoth-northerners", "wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music/northerners.ogg",
         30.0, "Northerners", "Stephen Rozanc", "GPL-2+",
         "Stephen Rozanc; The Battle for Wesnoth project (David White et al.)", WESNOTH_DOC),
    Pick("hyperrogue-caribbean", "hyperrogue-music", "usr/share/hyperrogue/music/hr-savino-caribbean.ogg",
         10.0, "Caribbean", "Will Savino", "CC-BY-SA-3.0", "Will Savino (http://www.willsavino.net)", HYPERROGUE_DOC),
    Pick("hyperrogue-caves", "hyperrogue-music", "usr/share/hyperrogue/music/hr3-caves.ogg",
         8.0, "Living Caves", "Shawn Parrotte (NeonCorridor)", "CC-BY-SA-3.0",
         "Shawn Parrotte (http://www.shawnparrotte.com)", HYPERROGUE_DOC),
    Pick("blupi-music004", "planetblupi-music-ogg", "usr/share/planetblupi/music/music004.ogg",
         60.0, "Planet Blupi, music 4", "EPSITEC SA", "GPL-3+",
         "1997 Daniel Roux, EPSITEC SA & Denis Dumoulin; 2017-2018 Mathieu Schroeter", BLUPI_DOC),
    Pick("blupi-music007", "planetblupi-music-ogg", "usr/share/planetblupi/music/music007.ogg",
         60.0, "Planet Blupi, music 7", "EPSITEC SA", "GPL-3+",
         "1997 Daniel Roux, EPSITEC SA & Denis Dumoulin; 2017-2018 Mathieu Schroeter", BLUPI_DOC),
    Pick("drascula-track2", "drascula-music", "usr/share/scummvm/drascula/audio/track2.ogg",
         30.0, "Drascula, track 2", "Alcachofa Soft", "Drascula-License (BSD-like, free redistribution)",
         "1996-2008 Alcachofa Soft S.L.", DRASCULA_DOC),
    Pick("drascula-track11", "drascula-music", "usr/share/scummvm/drascula/audio/track11.ogg",
         20.0, "Drascula, track 11", "Alcachofa Soft", "Drascula-License (BSD-like, free redistribution)",
         "1996-2008 Alcachofa Soft S.L.", DRASCULA_DOC),
)

# (song slug, offset inside the excerpt in seconds, noise recipe seed)
RECORDINGS: tuple[tuple[str, float, int], ...] = (
    ("wesnoth-wanderer", 18.0, 11),
    ("hyperrogue-caribbean", 25.0, 12),
    ("drascula-track2", 8.0, 13),
)

PACKAGES = ("wesnoth-1.16-music", "hyperrogue-music", "planetblupi-music-ogg", "drascula-music")


# ----------------------------------------------------------------------------- fetching
def ensure_packages(cache: Path) -> Path:
    """Download (not install) and unpack the four packages once; returns the unpacked root."""
    root = cache / "root"
    root.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        marker = cache / f".{package}.unpacked"
        if marker.exists():
            continue
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            print(f"downloading {package} ...", flush=True)
            subprocess.run(["apt-get", "download", package], cwd=cache, check=True)
            debs = sorted(cache.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
        marker.touch()
    return root


# ----------------------------------------------------------------------------- audio helpers
def decode_region(path: Path, start: float, seconds: float) -> np.ndarray:
    """Mono float32 at the feature rate. libsndfile, not ffmpeg: ffmpeg rejects the Vorbis
    headers of some of the hyperrogue files, libsndfile (which MusicID itself uses) reads them."""
    import librosa
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        f.seek(int(start * f.samplerate))
        audio = f.read(int(seconds * f.samplerate), dtype="float32", always_2d=True).mean(axis=1)
        rate = f.samplerate
    return librosa.resample(audio, orig_sr=rate, target_sr=SAMPLE_RATE).astype(np.float32)


def encode_ogg(audio: np.ndarray, target: Path, quality: str, tags: dict[str, str]) -> None:
    """Vorbis mono 22050 Hz; ``bitexact`` so the same input gives the same bytes (same song id)."""
    metadata: list[str] = []
    for key, value in tags.items():
        metadata += ["-metadata", f"{key}={value}"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "-",
         "-map_metadata", "-1", *metadata, "-c:a", "libvorbis", "-q:a", quality,
         "-fflags", "+bitexact", "-flags:a", "+bitexact", str(target)],
        input=np.ascontiguousarray(audio, dtype=np.float32).tobytes(), check=True,
    )


def fade(audio: np.ndarray, seconds: float = 0.5) -> np.ndarray:
    n = min(int(seconds * SAMPLE_RATE), audio.size // 2)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out = audio.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


# ----------------------------------------------------------------------------- synthetic noise
def babble(rng: np.random.Generator, n: int, talkers: int = 6) -> np.ndarray:
    """Crowd chatter: several 'talkers', each a glottal pulse train with a wandering pitch,
    shaped by vowel-like formant pairs that change every syllable, switched on and off by a
    syllable/pause envelope. Not speech, but it has speech's spectrum and rhythm."""
    from scipy.signal import lfilter

    vowels = [(730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720), (490, 1350)]
    out = np.zeros(n, dtype=np.float64)
    for _ in range(talkers):
        f0 = rng.uniform(95, 240)
        voice = np.zeros(n)
        pos = 0
        while pos < n:
            syll = int(rng.uniform(0.12, 0.3) * SAMPLE_RATE)
            seg_f0 = f0 * rng.uniform(0.85, 1.2)
            t = np.arange(min(syll, n - pos))
            phase = np.cumsum(np.full(t.size, seg_f0 / SAMPLE_RATE))
            pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
            pulses += 0.05 * rng.standard_normal(t.size)  # breath
            f1, f2 = vowels[rng.integers(len(vowels))]
            seg = pulses
            for freq, bw in ((f1 * rng.uniform(0.9, 1.1), 90.0), (f2 * rng.uniform(0.9, 1.1), 120.0)):
                r = np.exp(-np.pi * bw / SAMPLE_RATE)
                theta = 2 * np.pi * freq / SAMPLE_RATE
                seg = seg + lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], pulses) * 4
            envelope = np.sin(np.linspace(0, np.pi, t.size)) ** 0.7
            if rng.random() < 0.2:  # a pause between phrases
                envelope *= 0.0
            voice[pos : pos + t.size] = seg * envelope
            pos += t.size
        out += voice * rng.uniform(0.4, 1.0) / (rms(voice) + 1e-12)
    return out.astype(np.float32)


def clatter(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cutlery and glasses: sparse short decaying high-pitched knocks."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(n / SAMPLE_RATE * 1.5)):
        start = int(rng.integers(0, n - 4000))
        length = int(rng.integers(800, 4000))
        t = np.arange(length) / SAMPLE_RATE
        tone = np.sin(2 * np.pi * rng.uniform(1500, 6000) * t) + 0.5 * rng.standard_normal(length)
        out[start : start + length] += (tone * np.exp(-t * rng.uniform(40, 120)) * rng.uniform(0.3, 1.0)).astype(np.float32)
    return out


def room_tone(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ventilation: low-passed (brown-ish) noise."""
    white = rng.standard_normal(n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(2048) / 2048, mode="same")  # remove drift
    return brown.astype(np.float32)


def ambient(rng: np.random.Generator, n: int) -> np.ndarray:
    """The recipe of a noisy café: babble dominates, with clatter and room tone under it."""
    b, c, r = babble(rng, n), clatter(rng, n), room_tone(rng, n)
    mix = b / rms(b) + 0.35 * c / (rms(c) + 1e-12) + 0.3 * r / rms(r)
    return mix.astype(np.float32)


def room(audio: np.ndarray, wet: float = 0.3) -> np.ndarray:
    """Music heard across a room: the direct sound plus a short diffuse reverberant tail.

    No loudspeaker/microphone band-limiting on purpose: the current models lose about half
    their accuracy when the music is band-passed to 150-7000 Hz (measured with this script),
    which is a training-augmentation gap to fix, not something to hide in the demo."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(7)
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    impulse = rng.standard_normal(t.size) * np.exp(-t / 0.06)
    tail = fftconvolve(audio, impulse, mode="full")[: audio.size]
    return (audio + tail * wet * rms(audio) / rms(tail)).astype(np.float32)


def noisy(music: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """Music in a reverberant room, plus café noise at ``snr_db``; peak-normalised."""
    heard = room(music)
    noise = ambient(rng, heard.size)
    noise *= rms(heard) / rms(noise) / (10 ** (snr_db / 20))
    mix = heard + noise
    return (0.9 * mix / np.abs(mix).max()).astype(np.float32)


# ----------------------------------------------------------------------------- steps
def write_songs(unpacked: Path, songs_dir: Path) -> dict[str, np.ndarray]:
    """Encode the excerpts; returns the full-quality excerpt audio by slug (for recordings)."""
    shutil.rmtree(songs_dir, ignore_errors=True)
    songs_dir.mkdir(parents=True)
    originals = {}
    for pick in PICKS:
        audio = decode_region(unpacked / pick.source, pick.start, EXCERPT_SECONDS)
        if audio.size < EXCERPT_SECONDS * SAMPLE_RATE * 0.99 or rms(audio) < 0.01:
            raise SystemExit(f"{pick.source}: the excerpt at {pick.start}s is too short or too quiet")
        audio = fade(audio)
        encode_ogg(audio, songs_dir / f"{pick.slug}.ogg", VORBIS_QUALITY_SONG, {
            "title": pick.title, "artist": pick.artist,
            "comment": f"{EXCERPT_SECONDS:.0f} s excerpt from {pick.source} (Debian package {pick.package}); "
                       f"licence {pick.license}",
        })
        originals[pick.slug] = audio
    return originals


def train_model(songs_dir: Path, model_dir: Path, epochs: int, examples: int, seed: int) -> dict:
    """Enrol exactly the shipped files into a scratch library, train, copy the bundle."""
    from musicid_core.library import Library
    from musicid_core.tfquiet import load_tensorflow
    from training.train import TrainOptions, train

    load_tensorflow()
    with tempfile.TemporaryDirectory(prefix="musicid-demo-") as scratch:
        library = Library(Path(scratch) / "data")
        report = library.add_songs(sorted(songs_dir.glob("*.ogg")))
        if report.failed or len(report.added) != len(PICKS):
            raise SystemExit(f"could not enrol the excerpts: {report.failed or report.duplicates}")
        last = [0.0]

        def progress(p) -> None:  # noqa: ANN001 - TrainProgress
            if time.monotonic() - last[0] > 20 or p.fraction >= 1.0:
                last[0] = time.monotonic()
                print(f"  [{p.stage}] {p.fraction:5.1%} {p.message}", flush=True)

        from training.noise_bank import load_noise_bank

        noise_source = load_noise_bank(library).source
        if noise_source == "synthesised":
            print("  warning: resources/noise is empty, training with synthesised noise only", flush=True)
        options = TrainOptions(arch="fast", epochs=epochs, examples_per_song=examples, seed=seed)
        result = train(library, options, progress=progress)
        staging = model_dir.with_name(model_dir.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(result.bundle, staging)
        for path in staging.iterdir():  # the store writes 0600 files; shipped ones must be readable by all
            path.chmod(0o644)
        shutil.rmtree(model_dir, ignore_errors=True)
        staging.rename(model_dir)
        return {"arch": options.arch, "epochs": epochs, "examples_per_song": examples, "seed": seed,
                "noise": noise_source, "seconds": round(result.seconds, 1), "best_epoch": result.best_epoch,
                "validation": {k: round(float(v), 4) for k, v in result.metrics.items()}}


def add_landmarks(songs_dir: Path, model_dir: Path) -> dict:
    """Give a kept model (``--skip-training``) the fingerprint index (landmarks and tonal profiles)
    and margins that training now builds (``training.fingerprints``), from exactly the shipped excerpt files, in label order."""
    from musicid_core.audio.decode import load_audio
    from musicid_core.fingerprint import INDEX_FILE, FingerprintIndex
    from musicid_core.models import store
    from musicid_core.storage import file_sha256, write_checked_json
    from musicid_core.speed_search import SPEEDS
    from training.fingerprints import calibrate_margin
    from training.noise_bank import folder_clips, load_negative_bank
    from musicid_core.resources import default_noise_dir

    by_id = {file_sha256(path)[:12]: path for path in sorted(songs_dir.glob("*.ogg"))}
    labels = json.loads((model_dir / "labels.json").read_text(encoding="utf-8"))
    index = FingerprintIndex.build(load_audio(by_id[item["id"]]) for item in labels)
    meta = store.read_meta(model_dir)
    calibration = calibrate_margin(index, load_negative_bank().clips, folder_clips(default_noise_dir()))
    index.save(model_dir / INDEX_FILE)
    (model_dir / INDEX_FILE).chmod(0o644)
    meta.fingerprints_sha256 = file_sha256(model_dir / INDEX_FILE)
    meta.fingerprint_margin = calibration["fingerprint_margin"]
    meta.profile_margin = calibration.get("profile_margin", 0.0)
    meta.margin_speeds = list(SPEEDS)  # calibrate_margin made its impostors with the speed search
    meta.metrics.update(calibration)
    write_checked_json(model_dir / "meta.json", store.META_SCHEMA, meta.to_dict())
    (model_dir / "meta.json").chmod(0o644)
    return {k: round(float(v), 2) for k, v in calibration.items()}


def add_lite_model(model_dir: Path) -> None:
    """Give the shipped model its LiteRT copy (``model.tflite``, what recognition runs; see
    ``musicid_core.models.runtime``) from its own ``model.keras``, checksummed in ``meta.json``
    like the bundle's other files. Training writes it itself; this is for a kept model."""
    from musicid_core.models import store
    from musicid_core.models.runtime import LITE_FILE, convert_to_lite
    from musicid_core.storage import atomic_write_bytes, file_sha256, write_checked_json

    meta = store.read_meta(model_dir)
    model = store.load_bundle(model_dir, keras=True).model
    atomic_write_bytes(model_dir / LITE_FILE, convert_to_lite(model))
    (model_dir / LITE_FILE).chmod(0o644)
    meta.lite_sha256 = file_sha256(model_dir / LITE_FILE)
    write_checked_json(model_dir / "meta.json", store.META_SCHEMA, meta.to_dict())
    (model_dir / "meta.json").chmod(0o644)
    store.verify_bundle(model_dir)


def write_recordings(originals: dict[str, np.ndarray], rec_dir: Path) -> list[dict]:
    shutil.rmtree(rec_dir, ignore_errors=True)
    rec_dir.mkdir(parents=True)
    entries = []
    n = int(RECORDING_SECONDS * SAMPLE_RATE)
    for slug, offset, seed in RECORDINGS:
        start = int(offset * SAMPLE_RATE)
        clip = noisy(originals[slug][start : start + n], np.random.default_rng(seed), RECORDING_SNR_DB)
        name = f"{slug}-cafe.ogg"
        encode_ogg(clip, rec_dir / name, VORBIS_QUALITY_RECORDING,
                   {"title": f"Demo recording: {slug} in a noisy café", "comment": "MusicID demo recording"})
        entries.append({"file": f"recordings/{name}", "song": f"songs/{slug}.ogg", "offset": offset,
                        "seconds": RECORDING_SECONDS, "snr_db": RECORDING_SNR_DB,
                        "noise": "synthesised babble + clatter + room tone; short room reverb on the music"})
    return entries


def evaluate(originals: dict[str, np.ndarray], model_dir: Path, ids: dict[str, str], recordings: list[dict]) -> dict:
    """Accuracy of the shipped bundle on fresh noisy clips (other offsets, other noise draws)."""
    from musicid_core.audio.decode import load_audio
    from musicid_core.models.store import load_bundle
    from musicid_core.recognizer import Recognizer

    recognizer = Recognizer(load_bundle(model_dir))
    rng = np.random.default_rng(12345)
    n = int(RECORDING_SECONDS * SAMPLE_RATE)
    top1 = matches = total = 0
    for slug, audio in originals.items():
        for _ in range(EVAL_CLIPS_PER_SONG):
            start = int(rng.integers(0, audio.size - n))
            result = recognizer.identify(noisy(audio[start : start + n], rng, RECORDING_SNR_DB), top_k=3)
            total += 1
            top1 += result.best.song.id == ids[slug]
            matches += result.verdict == "match" and result.best.song.id == ids[slug]
    shipped = []
    for entry in recordings:
        result = recognizer.identify(load_audio(DEMO / entry["file"]), top_k=3)
        slug = Path(entry["song"]).stem
        shipped.append({"file": entry["file"], "top": result.best.song.title, "correct": result.best.song.id == ids[slug],
                        "verdict": result.verdict, "score": round(result.best.score, 3)})
    return {"clips": total, "snr_db": RECORDING_SNR_DB, "top1_accuracy": round(top1 / total, 4),
            "correct_match_verdicts": round(matches / total, 4), "shipped_recordings": shipped}


def write_license(unpacked: Path) -> None:
    lines = [
        "# Demo songs: sources and licences",
        "",
        "Each file in `songs/` is a 45-second mono excerpt (Ogg Vorbis, 22050 Hz, re-encoded, faded in and",
        "out) of a track from a freely licensed Debian package. The excerpts are modified versions",
        "(shortened, downmixed, re-encoded); the originals are unchanged in the packages named below.",
        "The files in `recordings/` are the same excerpts mixed with synthesised noise (derivative works",
        "under the same licences). `model/` is a model trained on these excerpts by `build_demo.py`.",
        "",
        "| File | Title | Composer / holder | Debian package | Original file | Excerpt | Licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PICKS:
        lines.append(f"| `songs/{p.slug}.ogg` | {p.title} | {p.copyright} | `{p.package}` | `/{p.source}` | "
                     f"{p.start:.0f}–{p.start + EXCERPT_SECONDS:.0f} s | {p.license} |")
    lines += [
        "",
        "Licence texts: GPL-2 and GPL-3 — https://www.gnu.org/licenses/ (on Debian in",
        "`/usr/share/common-licenses/`); CC-BY-SA-3.0 — https://creativecommons.org/licenses/by-sa/3.0/.",
        "Corresponding source for the GPL-licensed music is the Debian source packages",
        "(`apt-get source wesnoth-1.16-music planetblupi`) and https://www.wesnoth.org/,",
        "https://github.com/blupi-games/planetblupi/.",
        "",
        "The Drascula licence is reproduced below from the package's copyright file, as it requires.",
        "",
    ]
    for package, doc in (("drascula-music", DRASCULA_DOC), ("hyperrogue-music", HYPERROGUE_DOC),
                         ("planetblupi-music-ogg", BLUPI_DOC), ("wesnoth-1.16-music", WESNOTH_DOC)):
        text = (unpacked / doc).read_text(encoding="utf-8", errors="replace")
        if package == "drascula-music":
            text = text[text.index("License: Drascula-License\n 1)"):]
        elif package == "hyperrogue-music":
            start = text.index("Files: music/hr3-caves.ogg")
            text = text[start : text.index("Files: sounds/*")]
        elif package == "planetblupi-music-ogg":
            text = text[: text.index("Files: debian/*")]
        else:
            text = text[: text.index("        -----")]
        lines += [f"## From `/{doc}` ({package})", "", "```", text.strip(), "```", ""]
    (DEMO / "LICENSE.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "musicid-demo-corpus",
                        help="where the .deb files are downloaded and unpacked (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--examples-per-song", type=int, default=DEFAULT_EXAMPLES_PER_SONG)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true",
                        help="keep model/'s network (only valid if the excerpt files come out byte-identical); "
                             "its landmark index and margin are rebuilt")
    parser.add_argument("--lite-only", action="store_true",
                        help="only add the LiteRT copy of model/'s network (no download, no retraining)")
    args = parser.parse_args()
    if args.lite_only:
        add_lite_model(DEMO / "model")
        print("wrote", DEMO / "model" / "model.tflite")
        return 0

    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    unpacked = ensure_packages(args.cache)
    print("writing excerpts ...", flush=True)
    originals = write_songs(unpacked, DEMO / "songs")
    from musicid_core.storage import file_sha256

    ids = {p.slug: file_sha256(DEMO / "songs" / f"{p.slug}.ogg")[:12] for p in PICKS}
    print("writing noisy recordings ...", flush=True)
    recordings = write_recordings(originals, DEMO / "recordings")
    manifest_path = DEMO / "demo.json"
    training = json.loads(manifest_path.read_text())["training"] if manifest_path.exists() else {}
    if args.skip_training:
        labels = {item["id"] for item in json.loads((DEMO / "model" / "labels.json").read_text())}
        if labels != set(ids.values()):
            raise SystemExit("the excerpts changed, so the model must be retrained: drop --skip-training")
        print("indexing landmarks for the kept model ...", flush=True)
        training["landmarks"] = add_landmarks(DEMO / "songs", DEMO / "model")
        add_lite_model(DEMO / "model")
    else:
        print(f"training ({args.epochs} epochs, {args.examples_per_song} examples per song) ...", flush=True)
        training = train_model(DEMO / "songs", DEMO / "model", args.epochs, args.examples_per_song, args.seed)
    print("evaluating ...", flush=True)
    evaluation = evaluate(originals, DEMO / "model", ids, recordings)
    write_license(unpacked)
    manifest = {
        "about": "Generated by build_demo.py; see LICENSE.md for sources and licences.",
        "songs": [{"file": f"songs/{p.slug}.ogg", "id": ids[p.slug], **{k: v for k, v in asdict(p).items()
                                                                          if k not in ("slug", "copyright_file")},
                   "seconds": EXCERPT_SECONDS} for p in PICKS],
        "recordings": [{**r, "song_id": ids[Path(r["song"]).stem]} for r in recordings],
        "training": training,
        "evaluation": evaluation,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    print(json.dumps(evaluation, indent=1))
    print(f"done in {(time.monotonic() - started) / 60:.1f} min; resources/demo is {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
