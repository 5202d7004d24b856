"""MusicID core: audio decoding, features, the song library, models and recognition.

Nothing in this package imports Qt (a test enforces it), and TensorFlow is only imported
inside the functions that need it, so the GUI can start before Keras has loaded.
"""

__version__ = "0.1.0"
