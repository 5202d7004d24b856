"""The ``musicid`` command line: enroll songs and noise, train, identify, evaluate."""
