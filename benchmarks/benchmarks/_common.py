"""Helpers shared by the asv benchmark modules (no benchmarks here)."""

import os


def bench_backends(model):
    """Backends to benchmark for one kernel family.

    ``$FASTCAVI_BENCH_BACKENDS`` (comma-separated) if set, else every backend
    of ``model`` that imports (:func:`fastcavi.kernels.available_backends`).
    """
    env = os.environ.get("FASTCAVI_BENCH_BACKENDS")
    if env:
        return [b for b in env.split(",") if b]
    from fastcavi.kernels import available_backends

    return available_backends(model)


def skip_numpy_threads(backend, n_jobs):
    """Skip (asv's NotImplementedError) multi-threaded cases of the NumPy reference."""
    if backend == "numpy" and n_jobs != 1:
        raise NotImplementedError("the NumPy reference is single-threaded")
