"""Per-model array code: local step, global step and ELBO terms (no estimator logic)."""
