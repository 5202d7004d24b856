"""Audio in: decoding files to 22050 Hz mono float32, and live microphone capture."""
