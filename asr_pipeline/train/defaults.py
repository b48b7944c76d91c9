"""Fine-tuning defaults, light to import (the CLI shows them in its help)."""

DEFAULT_LR = 1e-3
DEFAULT_WARMUP = 10
DEFAULT_BATCH_SECONDS = 8.0
"""Defaults for minutes of data on a CPU (measured on the demonstration model: see
``docs/adapt.md``); hours on a GPU want a lower rate, longer warm-up and larger batches."""
DEFAULT_EPOCHS = 30.0
"""Passes over the training data when neither steps nor epochs are given."""
