"""One training run: its settings, run directory (identity, lock, FAILED), batches, step loop,
evaluation and validation schedule, diagnostics, checkpoints, score, and ``drol train``."""
