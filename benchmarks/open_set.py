"""Study: would an embedding-distance verdict reject strangers better than the softmax score?

The shipped verdict thresholds the top song's averaged softmax probability, and
``benchmarks.verdict`` shows that no threshold on it reaches 95 % rejection without losing most
right answers. Distance-based open-set scores often separate known from unknown better than the
softmax (the logits of a closed-set classifier are free to be large for anything). This study
measures one on the same queries, without retraining: the ``fast`` model's 256-d ``embedding``
layer; per song, the centroid of L2-normalised embeddings of training-like windows (fragments
at random offsets with the training augmentation and training noise); per query, the mean cosine
similarity of its windows' embeddings to the top-ranked song's centroid.

Printed and saved: for each 10-s condition, the best share of enrolled queries answered with the
right song while ≥ 95 % (and ≥ 80 %) of strangers are rejected, for both scores. A study, not a
verdict: the figures are optimistic for both (best point picked on the queries themselves).

    python -m benchmarks.open_set [--songs 57] [--model BUNDLE] [--fragments-per-song 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_corpus, command_line, machine, write_result


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def song_centroids(embed, library, songs, per_song: int, seed: int = 0) -> np.ndarray:
    """(n_songs, dim) unit centroids of augmented training-like windows of each song."""
    from musicid_core.config import DEFAULT_FEATURES as F
    from musicid_core.features import fragment_windows
    from training.augment import augment_in_room
    from training.noise_bank import load_noise_bank

    rng = np.random.default_rng(seed)
    noise, _ = load_noise_bank(library, None).split()
    centroids = []
    for song in songs:
        audio = library.song_audio(song)
        starts = rng.integers(0, max(1, len(audio) - F.fragment_samples), size=per_song)
        mixes = np.stack([augment_in_room(np.asarray(audio[s : s + F.fragment_samples], dtype=np.float32),
                                          noise, rng, F.sample_rate) for s in starts])
        centroids.append(unit(unit(embed(fragment_windows(mixes, F))).mean(axis=0)))
    return np.stack(centroids)


def best_at(enrolled: list[tuple[bool, float]], unknown: list[float], rejection: float) -> float:
    """Best right-match share over thresholds that reject at least ``rejection`` of strangers."""
    best = 0.0
    for t in sorted({s for _, s in enrolled} | set(unknown) | {np.inf}):
        if np.mean([s < t for s in unknown]) >= rejection:
            best = max(best, float(np.mean([ok and s >= t for ok, s in enrolled])))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=57)
    parser.add_argument("--model", type=Path, default=None, help="bundle folder (default: the library's current)")
    parser.add_argument("--fragments-per-song", type=int, default=20)
    args = parser.parse_args(argv)

    import keras

    from benchmarks.accuracy import setup_library
    from benchmarks.queries import load_queries
    from musicid_core.features import recording_windows
    from musicid_core.models.store import load_bundle, load_current

    library, enrolled, rest, id_to_song, _ = setup_library(args.songs, benchmark_corpus())
    from musicid_core.models.store import current_bundle_path

    bundle = load_bundle(args.model or current_bundle_path(library.models_dir), keras=True)  # needs the Keras layers
    model = bundle.model
    both = keras.Model(model.inputs, [model.output, model.get_layer("embedding").output])

    def run(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, e = both.predict(np.asarray(windows, dtype=np.float32)[..., None], verbose=0, batch_size=64)
        return p, e

    label_ids = [label.id for label in bundle.labels]
    songs = {s.id: s for s in library.songs()}
    centroids = song_centroids(lambda w: run(w)[1], library, [songs[i] for i in label_ids], args.fragments_per_song)

    queries = load_queries()
    enrolled_ids, unknown_ids = {s.song_id for s in enrolled}, {s.song_id for s in rest}
    rows: dict[tuple[int, int], dict[str, list]] = {}
    for i in range(len(queries["song"])):
        song, length = str(queries["song"][i]), int(queries["length"][i])
        if length != 10 or (song not in enrolled_ids and song not in unknown_ids):
            continue
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        p, e = run(recording_windows(audio, bundle.meta.features))
        scores = p[:, : len(label_ids)].mean(axis=0)
        top = int(np.argmax(scores))
        similarity = float((unit(e) @ centroids[top]).mean())
        row = rows.setdefault((length, int(queries["snr"][i])), {"enrolled": [], "unknown": []})
        if song in enrolled_ids:
            right = id_to_song.get(label_ids[top], label_ids[top]) == song
            row["enrolled"].append((right, float(scores[top]), similarity))
        else:
            row["unknown"].append((float(scores[top]), similarity))

    conditions = {}
    for (length, snr), row in sorted(rows.items()):
        out = {"n_enrolled": len(row["enrolled"]), "n_unknown": len(row["unknown"])}
        for index, name in ((1, "softmax"), (2, "embedding")):
            genuine = [(r[0], r[index]) for r in row["enrolled"]]
            strangers = [r[index - 1] for r in row["unknown"]]
            for rejection in (0.8, 0.95):
                out[f"{name}_right_at_{int(rejection * 100)}"] = best_at(genuine, strangers, rejection)
        conditions[f"{length}s/{snr:+d}dB"] = out
        print(f"{length} s {snr:+3d} dB: right match at >=95 % / >=80 % rejected: "
              f"softmax {out['softmax_right_at_95']:.1%} / {out['softmax_right_at_80']:.1%}, "
              f"embedding {out['embedding_right_at_95']:.1%} / {out['embedding_right_at_80']:.1%}", flush=True)
    data = {"kind": "open_set", "songs": args.songs, "model": bundle.path.name,
            "fragments_per_song": args.fragments_per_song, "conditions": conditions,
            "command": command_line(), "machine": machine()}
    print("wrote", write_result(f"open-set-n{args.songs}", data), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
