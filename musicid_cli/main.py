"""``musicid`` — the whole backbone without a GUI.

Exit codes: 0 success, 2 usage errors (argparse), 1 any other failure, with a one-line reason on
stderr. TensorFlow is imported only by the commands that need it, so ``library list`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Optional, Sequence

from musicid_core import __version__
from musicid_core.diskspace import StorageError, storage_error
from musicid_core.errors import MusicIdError
from musicid_core.library import DEFAULT_PACK, ImportReport, Library
from musicid_core.paths import data_dir
from musicid_core.tfquiet import load_tensorflow
from musicid_cli.progressbar import ProgressBar, occasional_lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicid", description="Recognise songs from your library in noisy recordings.")
    parser.add_argument("--version", action="version", version=f"musicid {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (default: $MUSICID_DATA_DIR or the user data dir)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    library = commands.add_parser("library", help="songs in the library").add_subparsers(dest="action", required=True)
    add = library.add_parser("add", help="import song files or folders")
    add.add_argument("paths", nargs="+", metavar="PATH")
    library.add_parser("list", help="list songs")
    remove = library.add_parser("remove", help="remove a song by its id")
    remove.add_argument("id")
    library.add_parser("check", help="report songs or noise whose files went missing")
    library.add_parser("repair", help="set a damaged catalogue aside and rebuild it from the song files")
    library.add_parser("compact", help="re-store songs kept by an earlier version as PCM (.npy) as Ogg Vorbis")

    noise = commands.add_parser("noise", help="ambient noise packs").add_subparsers(dest="action", required=True)
    nadd = noise.add_parser("add", help="import noise files, folders or .zip files")
    nadd.add_argument("paths", nargs="+", metavar="PATH")
    nadd.add_argument("--pack", default=DEFAULT_PACK, help="pack name (default: %(default)s)")
    noise.add_parser("list", help="list noise packs")
    nremove = noise.add_parser("remove", help="remove a whole noise pack")
    nremove.add_argument("pack")

    from musicid_core.models.architectures import ARCHITECTURES, DEFAULT_ARCH

    train = commands.add_parser("train", help="train a model on the library")
    train.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH)
    train.add_argument("--epochs", type=_positive_int, default=None, help="default: 6")
    train.add_argument("--examples-per-song", type=_positive_int, default=None, help="default: 200")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--noise-pack", action="append", dest="noise_packs", help="use only these packs (repeatable)")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from its last epoch checkpoint (same songs and options)")

    model = commands.add_parser("model", help="the trained model bundles").add_subparsers(dest="action", required=True)
    model.add_parser("check", help="verify the current model's files (checksums, labels)")
    model.add_parser("fallback", help="set a damaged current model aside and use the previous one")

    identify = commands.add_parser("identify", help="identify recordings")
    identify.add_argument("files", nargs="+", metavar="FILE")
    identify.add_argument("--top", type=_positive_int, default=5, metavar="K",
                          help="how many songs to rank per file, best first (default: %(default)s)")
    identify.add_argument("--json", action="store_true", help="one JSON object per line per file")

    from musicid_cli.listen import add_parser as add_listen_parser

    add_listen_parser(commands, _positive_int)

    commands.add_parser("evaluate", help="print the current model's validation metrics")

    serve = commands.add_parser("serve", help="serve the phone page and the HTTPS API (see docs/phone.md)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: %(default)s, this computer only; 0.0.0.0 allows phones)")
    serve.add_argument("--port", type=int, default=8765, help="default: %(default)s")
    serve.add_argument("--data-dir", dest="serve_data_dir", metavar="DIR", help="data folder (as the global option)")
    serve.add_argument("--rotate-token", action="store_true", help="make a new pairing token (unpairs every phone)")

    demo = commands.add_parser("demo", help="enrol the shipped demo songs and their model (empty library only)")
    demo.add_argument("--identify", action="store_true", help="then identify the shipped noisy demo recordings")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        library = Library(data_dir(args.data_dir))
        handler = COMMANDS[(args.command, getattr(args, "action", None))]
        return handler(library, args)
    except MusicIdError as exc:
        print(f"musicid: error: {_with_data_dir_hint(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("musicid: interrupted", file=sys.stderr)
        return 1
    except OSError as exc:
        words = [args.command, *([args.action] if getattr(args, "action", None) else [])]
        doing = f"running 'musicid {' '.join(words)}'"
        translated = storage_error(exc, doing, data_dir(args.data_dir))
        if translated is not None:
            print(f"musicid: error: {_with_data_dir_hint(translated)}", file=sys.stderr)
            return 1
        print(f"musicid: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 1


def _with_data_dir_hint(exc: BaseException) -> str:
    """The message, saying how to choose another data folder where that is a way out."""
    text = str(exc)
    if isinstance(exc, StorageError) and exc.data_folder:
        advice = "choose another data folder"
        text = text.replace(advice, f"{advice} (musicid --data-dir DIR, or MUSICID_DATA_DIR)", 1)
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _print_report(report: ImportReport, kind: str) -> int:
    for item in report.added:
        print(f"added {kind}: {item.id}  {getattr(item, 'title', getattr(item, 'name', ''))}")
    for path, existing in report.duplicates:
        print(f"already in the library: {path} (as {existing!r})")
    for path, reason in report.failed:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{len(report.added)} added, {len(report.duplicates)} already present, {len(report.failed)} failed")
    return 1 if report.failed and not report.added and not report.duplicates else 0


def cmd_library_add(library: Library, args: argparse.Namespace) -> int:
    from training.enrolment import enrol

    with ProgressBar("Importing songs") as bar:
        enrolled = enrol(library, args.paths, progress=bar.update)
    for title, reason in enrolled.index_failed:
        print(f"imported but not indexed: {title}: {reason}", file=sys.stderr)
    status = _print_report(enrolled.imported, "song")
    if enrolled.imported.added:
        print("the new songs can be identified now; 'musicid train' lets the network learn them too", file=sys.stderr)
    return status


def cmd_library_list(library: Library, args: argparse.Namespace) -> int:
    songs = library.songs()
    for song in songs:
        minutes, seconds = divmod(int(round(song.duration)), 60)
        artist = f"{song.artist} — " if song.artist else ""
        print(f"{song.id}  {minutes:2d}:{seconds:02d}  {artist}{song.title}  [{song.source}]")
    print(f"{len(songs)} songs", file=sys.stderr)
    return 0


def cmd_library_remove(library: Library, args: argparse.Namespace) -> int:
    from training.enrolment import unenrol

    song = unenrol(library, args.id)
    print(f"removed {song.id}  {song.title}")
    return 0


def cmd_library_check(library: Library, args: argparse.Namespace) -> int:
    problems = library.problems()
    for problem in problems:
        print(problem)
    print("library is consistent" if not problems else f"{len(problems)} problems", file=sys.stderr)
    legacy = len(library.legacy_songs())
    if legacy:
        print(f"{legacy} songs are stored in an earlier version's larger form (PCM .npy); "
              "'musicid library compact' stores them in about a tenth of the space", file=sys.stderr)
    return 1 if problems else 0


def cmd_library_repair(library: Library, args: argparse.Namespace) -> int:
    report = library.repair()
    print(report.summary())
    for item in report.dropped:
        print(f"  not kept: {item}")
    if report.removed_temporary:
        print(f"  removed {report.removed_temporary} temporary files left by an interrupted import")
    return 0


def cmd_library_compact(library: Library, args: argparse.Namespace) -> int:
    before = len(library.legacy_songs())
    with ProgressBar("Compacting songs") as bar:
        converted = library.compact_songs(progress=bar.update)
    print(f"{converted} of {before} songs stored in the earlier form were re-stored as Ogg Vorbis")
    return 0


def cmd_model_check(library: Library, args: argparse.Namespace) -> int:
    from musicid_core.models.store import current_bundle_path, verify_bundle

    bundle = current_bundle_path(library.models_dir)
    if bundle is None:
        raise MusicIdError("there is no trained model yet; add songs and run 'musicid train'")
    meta, labels = verify_bundle(bundle)
    print(f"model {bundle.name} is intact: {meta.arch}, {len(labels)} songs")
    return 0


def cmd_model_fallback(library: Library, args: argparse.Namespace) -> int:
    from musicid_core.models.store import fall_back

    report = fall_back(library.models_dir)
    moved = f"; it was moved to {report.damaged.name}" if report.damaged is not None else ""
    print(f"the current model was unusable ({report.reason}){moved}")
    print(f"now using the previous model {report.current.name}")
    return 0


def cmd_noise_add(library: Library, args: argparse.Namespace) -> int:
    with ProgressBar("Importing noise") as bar:
        report = library.add_noise(args.paths, pack=args.pack, progress=bar.update)
    return _print_report(report, "noise clip")


def cmd_noise_list(library: Library, args: argparse.Namespace) -> int:
    packs = library.noise_packs()
    for name, clips in sorted(packs.items()):
        print(f"{name}: {len(clips)} clips, {sum(c.duration for c in clips) / 60:.1f} min")
    if not packs:
        print("no noise packs; training will use the bundled default pack", file=sys.stderr)
    return 0


def cmd_noise_remove(library: Library, args: argparse.Namespace) -> int:
    count = library.remove_noise_pack(args.pack)
    print(f"removed pack {args.pack!r} ({count} clips)")
    return 0


def cmd_train(library: Library, args: argparse.Namespace) -> int:
    load_tensorflow()
    from training.train import TrainOptions, train

    options = TrainOptions(arch=args.arch, seed=args.seed, noise_packs=args.noise_packs)
    if args.epochs:
        options.epochs = args.epochs
    if args.examples_per_song:
        options.examples_per_song = args.examples_per_song
    with ProgressBar("Training") as bar:
        result = train(library, options, progress=bar.train_update, resume=args.resume)
    if result.bundle is None:  # a cluster worker that is not the chief (docs/training-at-scale.md)
        print(f"this worker's part is done after {result.epochs_run} epochs; the chief saves the model")
        return 0
    widened = f", starting from {result.widened_from} ({result.kept_songs} songs kept)" if result.widened_from else ""
    print(f"saved model {result.bundle.name} after {result.epochs_run} epochs in {result.seconds / 60:.1f} min{widened}")
    _print_metrics(result.metrics)
    if result.stale:
        print("note: songs were added or removed while training; this model does not know them — train again",
              file=sys.stderr)
    return 0


def cmd_identify(library: Library, args: argparse.Namespace) -> int:
    # No TensorFlow here: a bundle with model.tflite runs under LiteRT; load_bundle imports
    # TensorFlow (quietly) only for an older bundle.
    from musicid_core.audio.decode import load_audio
    from musicid_core.models.current import CurrentRecognizer
    from training.enrolment import recalibrate_if_outdated

    recognizer = CurrentRecognizer(library, recalibrate_if_outdated).current(progress=occasional_lines("Preparing the songs"))
    failures = 0
    for file in args.files:
        try:
            result = recognizer.identify(load_audio(file, allow_silence=True), top_k=args.top)
        except MusicIdError as exc:
            failures += 1
            print(f"musicid: error: {exc}" if file in str(exc) else f"musicid: error: {file}: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result.to_json(file), ensure_ascii=False), flush=True)
        else:
            verdict = "not in your library" if result.verdict == "unknown" else "match"
            print(f"{file}: {verdict}")
            for rank, match in enumerate(result.matches, 1):
                print(f"  {rank}. {match.song.title}  [{match.song.source}]  {match.score:.3f}")
    return 1 if failures else 0


def cmd_evaluate(library: Library, args: argparse.Namespace) -> int:
    from musicid_core.models.store import current_bundle_path, read_meta
    from musicid_core.song_index import SongIndex

    bundle = current_bundle_path(library.models_dir)
    if bundle is None:
        raise MusicIdError("there is no trained model yet; add songs and run 'musicid train'")
    meta = read_meta(bundle)
    stale = meta.library_fingerprint != library.fingerprint()
    print(f"model {bundle.name}: {meta.arch}, trained {meta.trained_at}, {meta.epochs} epochs, "
          f"{meta.examples_per_song} examples per song, {meta.train_seconds / 60:.1f} min")
    _print_metrics(meta.metrics)
    margins = SongIndex(library).margins()
    if margins is not None:
        print(f"verdict for the library's {margins.songs} songs (used instead of the model's): landmark margin "
              f"{margins.fingerprint_margin:.0f}, profile margin {margins.profile_margin:.3f}")
        _print_operating_point(margins.impostors_rejected, None, " for the library")
    if stale:
        print("note: songs were added or removed since this model was trained; train again", file=sys.stderr)
    return 0


def cmd_demo(library: Library, args: argparse.Namespace) -> int:
    from musicid_core.demo import install_demo

    with ProgressBar("Installing the demo") as bar:
        result = install_demo(library, progress=bar.update)
    if result.refused:
        print(f"musicid: {result.message}", file=sys.stderr)
        return 1
    print(result.message)
    for path in result.recordings:
        print(f"  {path}")
    if not args.identify:
        return 0
    return cmd_identify(library, argparse.Namespace(files=[str(p) for p in result.recordings], top=3, json=False))


def cmd_serve(library: Library, args: argparse.Namespace) -> int:
    from musicid_server.cli import serve
    from musicid_server.config import ServerConfig

    if args.serve_data_dir:
        library = Library(data_dir(args.serve_data_dir))
    return serve(library, ServerConfig(host=args.host, port=args.port), rotate_token=args.rotate_token)


def _listen(library: Library, args: argparse.Namespace) -> int:
    from musicid_cli.listen import cmd_listen  # sounddevice and TensorFlow only for this command

    return cmd_listen(library, args)


def _print_operating_point(rejected: Optional[float], impostors: Optional[int], whose: str = "") -> None:
    """The verdict's calibrated operating point (``musicid_core.verdict``)."""
    from musicid_core import verdict

    count = f" {impostors}" if impostors else ""
    measured = (f"; with these margins it answers unknown to {rejected:.1%} of the calibration's{count} "
                f"foreign recordings" if rejected is not None
                else "; its rejection was not measured for these margins (set before the verdict was fitted)")
    print(f"verdict{whose}: match when the top song is right with probability >= {verdict.THRESHOLD:.2%} (the "
          f"threshold set for >= 95 % rejection of unknown music, each margin counted as a unit of lead){measured}")


def _print_metrics(metrics: dict[str, Any]) -> None:
    names = [("accuracy", "accuracy"), ("precision", "precision"), ("roc_auc", "ROC AUC"), ("top5", "top-5")]
    print("validation: " + ", ".join(f"{label} {metrics[key]:.1%}" if key != "roc_auc" else f"{label} {metrics[key]:.3f}"
                                     for key, label in names if key in metrics))
    if "fingerprint_margin" in metrics:
        print(f"verdict: landmark margin {metrics['fingerprint_margin']:.0f} (foreign recordings reached "
              f"{metrics.get('fingerprint_impostor_p99', 0):.1f} at the 99th percentile, "
              f"{metrics.get('fingerprint_impostor_max', 0):.0f} at most, over {metrics['fingerprint_impostors']:.0f})")
    if "profile_margin" in metrics:
        print(f"verdict: profile margin {metrics['profile_margin']:.3f} (foreign recordings reached "
              f"{metrics.get('profile_impostor_p99', 0):.3f} at the 99th percentile, "
              f"{metrics.get('profile_impostor_max', 0):.3f} at most)")
    if "fingerprint_margin" in metrics:
        _print_operating_point(metrics.get("verdict_impostors_rejected"), int(metrics.get("fingerprint_impostors", 0)))
    if "threshold" in metrics and "unknown_rejected" in metrics:
        label = "network-only verdict" if "fingerprint_margin" in metrics else "verdict"
        print(f"{label}: threshold {metrics['threshold']:.3f}; held-out strangers answered unknown "
              f"{metrics['unknown_rejected']:.1%}, held-out song windows answered match {metrics['songs_accepted']:.1%}")


COMMANDS: dict[tuple[str, Optional[str]], Callable[[Library, argparse.Namespace], int]] = {
    ("library", "add"): cmd_library_add,
    ("library", "list"): cmd_library_list,
    ("library", "remove"): cmd_library_remove,
    ("library", "check"): cmd_library_check,
    ("library", "repair"): cmd_library_repair,
    ("library", "compact"): cmd_library_compact,
    ("model", "check"): cmd_model_check,
    ("model", "fallback"): cmd_model_fallback,
    ("noise", "add"): cmd_noise_add,
    ("noise", "list"): cmd_noise_list,
    ("noise", "remove"): cmd_noise_remove,
    ("train", None): cmd_train,
    ("identify", None): cmd_identify,
    ("listen", None): lambda library, args: _listen(library, args),
    ("evaluate", None): cmd_evaluate,
    ("demo", None): cmd_demo,
    ("serve", None): cmd_serve,
}
