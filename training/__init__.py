"""Dataset creation with multi-noise augmentation, training, calibration and evaluation.

No Qt here: progress goes through plain callables (see ``musicid_core.progress``).
"""
