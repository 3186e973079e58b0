"""asv benchmarks of the Gaussian-mixture kernel ``gmm_e_step`` (samples/s per call).

Data: ``N_SAMPLES`` samples from ``N_COMPONENTS`` Gaussian blobs in ``D``
dimensions (fixed seed), the current parameters of a mixture with random
means, upper-triangular precision Cholesky factors and log_bias (the kernel's
work does not depend on their values). One call computes the E-step and the
sufficient statistics (what a fit iteration needs; per-sample outputs
skipped). Parameters: covariance type, every usable backend, ``n_jobs`` in
(1, 2) and dtype in (float32, float64); the NumPy reference ignores the thread
count, so its ``n_jobs=2`` cases are skipped.

Set ``FASTCAVI_BENCH_BACKENDS`` (comma-separated) to choose the backends;
otherwise every backend that imports is used.
"""

import time

import numpy as np

from ._common import bench_backends, skip_numpy_threads

N_SAMPLES = 50_000
D = 16
N_COMPONENTS = 20
SEED = 0
COV_TYPES = ["full", "diag", "tied", "spherical"]


BACKENDS = bench_backends("gmm")


def _problem(cov_type, dtype):
    rng = np.random.default_rng(SEED)
    n, d, K = N_SAMPLES, D, N_COMPONENTS
    X = 3.0 * rng.normal(size=(K, d))[rng.integers(0, K, n)] + rng.normal(size=(n, d))
    means = X[rng.choice(n, K, replace=False)]
    if cov_type == "full":
        prec = np.triu(0.2 * rng.normal(size=(K, d, d))) + np.eye(d)
    elif cov_type == "tied":
        prec = np.triu(0.2 * rng.normal(size=(d, d))) + np.eye(d)
    elif cov_type == "diag":
        prec = rng.uniform(0.5, 1.5, size=(K, d))
    else:
        prec = rng.uniform(0.5, 1.5, size=K)
    log_bias = rng.normal(size=K)
    return (X.astype(dtype), np.ones(n, dtype=dtype), means.astype(dtype), prec.astype(dtype),
            log_bias)


class EStepStats:
    """One ``gmm_e_step`` call with statistics (a fit iteration's kernel work)."""

    params = [COV_TYPES, BACKENDS, [1, 2], ["float32", "float64"]]
    param_names = ["cov_type", "backend", "n_jobs", "dtype"]
    number = 1
    repeat = (3, 10, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, cov_type, backend, n_jobs, dtype):
        from fastcavi.kernels import get_backend

        if backend == "numpy" and n_jobs != 1:
            raise NotImplementedError("the NumPy reference is single-threaded")
        self.kernels = get_backend(backend, "gmm")
        self.args = _problem(cov_type, np.dtype(dtype))
        n, d, K = N_SAMPLES, D, N_COMPONENTS
        sxx = {"full": np.empty((K, d, d)), "tied": np.empty(0), "diag": np.empty((K, d)),
               "spherical": np.empty(K)}[cov_type]
        self.out = (np.empty(K), np.empty((K, d)), sxx, np.empty((0, K), dtype=dtype),
                    np.empty(0, dtype=dtype))
        self.cov_type = cov_type
        self.n_jobs = n_jobs
        self._call()  # compile (Numba) outside the timing

    def _call(self):
        self.kernels.gmm_e_step(*self.args, self.cov_type, *self.out, True, self.n_jobs)

    def time_e_step(self, cov_type, backend, n_jobs, dtype):
        self._call()

    def track_samples_per_s(self, cov_type, backend, n_jobs, dtype):
        t = time.perf_counter()
        self._call()
        return N_SAMPLES / (time.perf_counter() - t)

    track_samples_per_s.unit = "samples/s"


class EStepPredict:
    """``gmm_e_step`` without statistics, writing log_resp (predict_proba's work)."""

    params = [["full", "diag"], BACKENDS, [1, 2], ["float64"]]
    param_names = ["cov_type", "backend", "n_jobs", "dtype"]
    number = 1
    repeat = (3, 10, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, cov_type, backend, n_jobs, dtype):
        from fastcavi.kernels import get_backend

        if backend == "numpy" and n_jobs != 1:
            raise NotImplementedError("the NumPy reference is single-threaded")
        self.kernels = get_backend(backend, "gmm")
        self.args = _problem(cov_type, np.dtype(dtype))
        n, d, K = N_SAMPLES, D, N_COMPONENTS
        self.out = (np.empty(0), np.empty(0), np.empty(0), np.empty((n, K), dtype=dtype),
                    np.empty(n, dtype=dtype))
        self.cov_type = cov_type
        self.n_jobs = n_jobs
        self._call()

    def _call(self):
        self.kernels.gmm_e_step(*self.args, self.cov_type, *self.out, False, self.n_jobs)

    def time_e_step(self, cov_type, backend, n_jobs, dtype):
        self._call()

    def track_samples_per_s(self, cov_type, backend, n_jobs, dtype):
        t = time.perf_counter()
        self._call()
        return N_SAMPLES / (time.perf_counter() - t)

    track_samples_per_s.unit = "samples/s"
