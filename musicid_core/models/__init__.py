"""Model architectures, the on-disk model bundle, and nothing that needs Keras at import time."""
