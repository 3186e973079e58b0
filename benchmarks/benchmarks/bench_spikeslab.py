"""asv benchmarks of fastcavi's spike-and-slab regression.

- ``DenseSweep``: one ``spikeslab_sweep_dense`` over all p coordinates of a
  dense Fortran-ordered N x N matrix, and one ``X.T @ r`` on the same matrix
  for scale (the issue's target: sweep <= 2x X^T r). Parameters: backend,
  dtype, n_threads (the compiled backends share a coordinate's row chunks
  among threads from their ``PARALLEL_MIN_ROWS``; the reference ignores it,
  so its 2-thread cases are skipped).
- ``CscSweep``: one ``spikeslab_sweep_csc`` on a sparse 5N x N matrix, 1%
  dense, centred implicitly.
- ``GridFit``: ``SpikeSlabRegression.fit`` with its default 10-point prior
  log-odds grid, ``n_jobs`` in (1, 2).

Backends: ``FASTCAVI_BENCH_BACKENDS`` (comma-separated) or every backend
that imports (:func:`fastcavi.kernels.available_backends`).
"""


import numpy as np
import scipy.sparse as sp

from ._common import bench_backends, skip_numpy_threads

N = 4000
SEED = 0


BACKENDS = bench_backends("spikeslab")


class DenseSweep:
    """One CAVI sweep over the p columns of a dense N x N matrix."""

    params = [BACKENDS, ["float64", "float32"], [1, 2]]
    param_names = ["backend", "dtype", "n_threads"]
    number = 1
    repeat = (1, 5, 20.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, backend, dtype, n_threads):
        from fastcavi.kernels import get_backend

        skip_numpy_threads(backend, n_threads)
        rng = np.random.default_rng(SEED)
        n = p = N if backend != "numpy" else N // 4
        self.X = np.asfortranarray(rng.standard_normal((n, p)).astype(dtype))
        X64 = self.X.astype(np.float64)
        y = rng.standard_normal(n)
        self.xy = X64.T @ y
        self.d = np.einsum("ij,ij->j", X64, X64)
        self.alpha0 = np.full(p, 0.01)
        self.mu0 = 0.01 * rng.standard_normal(p)
        self.Xr0 = X64 @ (self.alpha0 * self.mu0)
        self.r = self.Xr0.astype(dtype)
        self.logodds = np.full(p, -3.0)
        self.order = np.arange(p, dtype=np.int64)
        self.k = get_backend(backend, "spikeslab")
        self.n_threads = n_threads
        self.time_sweep(backend, dtype, n_threads)  # compile outside the timing

    def time_sweep(self, backend, dtype, n_threads):
        alpha, mu, Xr = self.alpha0.copy(), self.mu0.copy(), self.Xr0.copy()
        self.k.spikeslab_sweep_dense(self.X, self.xy, self.d, 1.0, 1.0, self.logodds, alpha, mu,
                                     np.ones_like(alpha), Xr, self.order, self.n_threads)

    def time_xtr(self, backend, dtype, n_threads):
        self.X.T @ self.r


class CscSweep:
    """One CAVI sweep over the columns of a sparse (1%) 5N x N CSC matrix."""

    params = [[b for b in BACKENDS if b != "numpy"], ["float64", "float32"]]
    param_names = ["backend", "dtype"]
    number = 1
    repeat = (1, 5, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, backend, dtype):
        from fastcavi.kernels import get_backend

        rng = np.random.default_rng(SEED)
        n, p = 5 * N, N
        X = sp.random(n, p, density=0.01, format="csc", random_state=SEED).astype(dtype)
        self.X = X
        self.xm = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        self.d = np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel() - n * self.xm**2
        y = rng.standard_normal(n)
        self.xy = np.asarray(X.T @ (y - y.mean()), dtype=np.float64)
        self.alpha0 = np.full(p, 0.01)
        self.mu0 = 0.01 * rng.standard_normal(p)
        self.Xr0 = np.asarray(X @ (self.alpha0 * self.mu0), dtype=np.float64)
        self.logodds = np.full(p, -3.0)
        self.order = np.arange(p, dtype=np.int64)
        self.n = n
        self.k = get_backend(backend, "spikeslab")
        self.time_sweep(backend, dtype)

    def time_sweep(self, backend, dtype):
        alpha, mu, Xr = self.alpha0.copy(), self.mu0.copy(), self.Xr0.copy()
        T = np.array([Xr.sum()])
        X = self.X
        self.k.spikeslab_sweep_csc(X.data, X.indices, X.indptr, self.xm, float(self.n), self.xy,
                                   self.d, 1.0, 1.0, self.logodds, alpha, mu, np.ones_like(alpha),
                                   Xr, T, self.order, 1)


class GridFit:
    """``SpikeSlabRegression().fit`` on 2000 x 1000 (10 grid points in threads)."""

    params = [[b for b in BACKENDS if b != "numpy"], [1, 2]]
    param_names = ["backend", "n_jobs"]
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, backend, n_jobs):
        from fastcavi import spikeslab

        rng = np.random.default_rng(SEED)
        self.X = rng.standard_normal((2000, 1000))
        beta = np.zeros(1000)
        beta[:10] = rng.standard_normal(10)
        self.y = self.X @ beta + rng.standard_normal(2000)
        self.est = spikeslab.SpikeSlabRegression(backend=backend, n_jobs=n_jobs, random_state=0,
                                                 max_iter=100)
        spikeslab.SpikeSlabRegression(backend=backend, max_iter=2).fit(self.X[:50, :20],
                                                                       self.y[:50])

    def time_fit(self, backend, n_jobs):
        self.est.fit(self.X, self.y)

    def track_sweeps(self, backend, n_jobs):
        return int(self.est.fit(self.X, self.y).grid_n_iter_.sum())

    track_sweeps.unit = "sweeps"
