"""The architectures MusicID can train. Keras is imported inside the builders (slow import).

Every model takes the method's input, a (128, 256, 1) ``power_to_db(ref=max)`` window in
[-80, 0] dB, rescales it to [0, 1] itself (so the bundle carries its own normalisation), and ends
in a softmax over the songs.

- ``fast`` (default): 2×2 input pooling, then four conv blocks 16→128 and global pooling.
  Measured on a 2-core CPU it trains at ~98 samples/s (the 32→256 variant: 37/s), which is
  what makes a full retrain a matter of minutes; global pooling over time keeps it insensitive to
  where in the window a phrase falls.
- ``fc``: the fully connected baseline of the reference (two hidden layers, with BatchNorm).
- ``alexnet``: the reference's AlexNet-style CNN with BatchNorm and LeakyReLU.
- ``resnet50``: ResNet-50 from scratch (no pretrained weights: nothing is downloaded) with the
  reference's added dropout before the classifier.
"""

from __future__ import annotations

from typing import Any, Callable

from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import MusicIdError

DEFAULT_ARCH = "fast"


def _inputs(settings: FeatureSettings) -> tuple[Any, Any]:
    import keras

    inputs = keras.Input(shape=settings.input_shape, name="log_mel")
    scaled = keras.layers.Rescaling(1.0 / settings.top_db, offset=1.0, name="db_to_unit")(inputs)
    return inputs, scaled


def build_fast(
    n_classes: int,
    settings: FeatureSettings = DEFAULT_FEATURES,
    widths: tuple[int, ...] = (16, 32, 64, 128),
    input_pool: tuple[int, int] = (2, 2),
) -> Any:
    import keras
    from keras import layers

    inputs, x = _inputs(settings)
    x = layers.AveragePooling2D(input_pool, name="input_pool")(x)
    for index, filters in enumerate(widths):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
        if index < 3:
            x = layers.MaxPooling2D((2, 2), name=f"pool{index}")(x)
    x = layers.Concatenate(name="pooled")(
        [layers.GlobalAveragePooling2D(name="gap")(x), layers.GlobalMaxPooling2D(name="gmp")(x)]
    )
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(256, activation="relu", name="embedding")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="song", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="musicid_fast")


def build_fc(n_classes: int, settings: FeatureSettings = DEFAULT_FEATURES) -> Any:
    import keras
    from keras import layers

    inputs, x = _inputs(settings)
    x = layers.AveragePooling2D((2, 4), name="input_pool")(x)
    x = layers.Flatten()(x)
    for width in (512, 256):
        # BatchNorm before the ReLU: without it, Adam's first steps push all 4096 same-sign
        # inputs' weights one way, every ReLU dies, and the loss stays at ln(songs) (measured on
        # 57 songs: chance level for six epochs).
        x = layers.Dense(width, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="song", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="musicid_fc")


def build_alexnet(n_classes: int, settings: FeatureSettings = DEFAULT_FEATURES) -> Any:
    import keras
    from keras import layers

    inputs, x = _inputs(settings)

    def block(x: Any, filters: int, kernel: int, strides: int = 1, pool: bool = True) -> Any:
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        return layers.MaxPooling2D((3, 3), strides=2, padding="same")(x) if pool else x

    x = block(x, 48, 11, strides=2)
    x = block(x, 128, 5)
    x = block(x, 192, 3, pool=False)
    x = block(x, 192, 3, pool=False)
    x = block(x, 128, 3)
    x = layers.Flatten()(x)
    for width in (1024, 512):
        x = layers.Dense(width)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="song", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="musicid_alexnet")


def build_resnet50(n_classes: int, settings: FeatureSettings = DEFAULT_FEATURES) -> Any:
    import keras
    from keras import layers

    inputs, x = _inputs(settings)
    backbone = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=settings.input_shape, pooling="avg"
    )
    x = backbone(x)
    x = layers.Dropout(0.5, name="added_dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="song", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="musicid_resnet50")


def build_tiny(n_classes: int, settings: FeatureSettings = DEFAULT_FEATURES) -> Any:
    """A few-thousand-parameter CNN for tests and smoke runs; not for real libraries."""
    import keras
    from keras import layers

    inputs, x = _inputs(settings)
    x = layers.AveragePooling2D((4, 4))(x)
    for filters in (16, 32):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.8)(x)  # few steps: statistics must settle fast
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D((2, 2))(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="song", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="musicid_tiny")


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "fast": build_fast,
    "fc": build_fc,
    "alexnet": build_alexnet,
    "resnet50": build_resnet50,
    "tiny": build_tiny,
}


def build_model(arch: str, n_classes: int, settings: FeatureSettings = DEFAULT_FEATURES) -> Any:
    try:
        builder = ARCHITECTURES[arch]
    except KeyError:
        raise MusicIdError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return builder(n_classes, settings)
