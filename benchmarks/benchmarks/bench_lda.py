"""asv benchmarks of fastcavi's LDA: one batch pass, and the E-step kernel alone.

Corpus: the first ``N_DOCS`` paragraphs of the bundled State of the Union
corpus (``fastcavi.datasets.load_sotu(unit="paragraph")``; always available,
no download), K = 50 topics. A pass runs with ``e_step_init="random"`` so the
work per pass is fixed (scikit-learn's iterates) and does not depend on what
an earlier pass did. Parameters: every usable kernel backend, ``n_jobs`` in
(1, 2) and dtype in (float32, float64); the NumPy reference ignores
``n_jobs``, so its ``n_jobs=2`` cases are skipped.

Backends are probed in a child process (an extension module that is being
rebuilt can crash the interpreter on import); set ``FASTCAVI_BENCH_BACKENDS``
(comma-separated) to choose them without probing.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._common import skip_numpy_threads

N_DOCS = 3000
N_TOPICS = 50
SEED = 0

_PROBE = r"""
import sys
import numpy as np
import scipy.sparse as sp
from fastcavi import LatentDirichletAllocation
X = sp.random(40, 30, density=0.3, format="csr", random_state=0)
X.data = np.ceil(X.data * 3)
for name in sys.argv[1:]:
    print("try", name, flush=True)
    try:
        LatentDirichletAllocation(3, max_iter=2, backend=name, random_state=0).fit(X)
    except Exception:
        continue
    print("ok", name, flush=True)
"""


def _backend_signature():
    """Where each backend module lives and when it changed (no module is imported)."""
    import importlib.util

    from fastcavi.kernels import MODELS

    sig = {"python": sys.executable}
    for name, module in sorted(MODELS["lda"].items()):
        try:
            origin = importlib.util.find_spec(module).origin
            st = os.stat(origin)
            sig[name] = [origin, st.st_mtime_ns, st.st_size]
        except (ImportError, AttributeError, OSError, TypeError):
            sig[name] = None
    return sig


def _probe():
    from fastcavi.kernels import BACKENDS

    remaining, ok = list(BACKENDS), []
    while remaining:
        proc = subprocess.run([sys.executable, "-c", _PROBE, *remaining], capture_output=True,
                              text=True, timeout=900)
        tried = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("try ")]
        ok += [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("ok ")]
        if proc.returncode == 0:
            break
        crashed = tried[-1] if tried else remaining[0]  # killed the probe: skip it
        remaining = remaining[remaining.index(crashed) + 1:]
    return [b for b in BACKENDS if b in ok]


def _usable_backends():
    """Backends to benchmark: $FASTCAVI_BENCH_BACKENDS, else probed (result cached).

    asv imports this module in many processes; the probe result is cached in
    benchmarks/.asv/ under a signature of the backend modules' files, so it is
    redone only when a backend changes (e.g. the Cython extension is built).
    """
    env = os.environ.get("FASTCAVI_BENCH_BACKENDS")
    if env:
        return [b for b in env.split(",") if b]
    cache = Path(__file__).resolve().parent.parent / ".asv" / "backend-probe.json"
    try:
        sig = _backend_signature()
    except Exception:  # pragma: no cover - private layout changed: probe every time
        sig = None
    if sig is not None:
        try:
            stored = json.loads(cache.read_text())
            if stored["signature"] == sig:
                return stored["backends"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    ok = _probe()
    if sig is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"signature": sig, "backends": ok}))
        except OSError:
            pass
    return ok


BACKENDS = _usable_backends()


def _load_corpus():
    from fastcavi.datasets import load_sotu

    return load_sotu(unit="paragraph").X[:N_DOCS].tocsr()


class _StopAfterOnePass(Exception):
    pass


def _one_pass(X, backend, n_jobs):
    """``fit`` stopped at the end of its first batch pass (K=50, random E-step init).

    The estimator reports each finished pass to a ``PassMonitor`` (looked up in
    :mod:`fastcavi.lda.estimator`); a subclass bound to that name for the call ends the
    fit there, so the timing covers data checks, initialisation and one pass,
    not the final bound on the training data.
    """
    import fastcavi.lda.estimator as lda_module
    from fastcavi import LatentDirichletAllocation

    base = lda_module.PassMonitor

    class StopMonitor(base):
        def end_pass(self, *args, **kwargs):
            super().end_pass(*args, **kwargs)
            raise _StopAfterOnePass

    est = LatentDirichletAllocation(N_TOPICS, max_iter=2, e_step_init="random", backend=backend,
                                    n_jobs=n_jobs, random_state=SEED)
    lda_module.PassMonitor = StopMonitor
    try:
        est.fit(X)
    except _StopAfterOnePass:
        return
    finally:
        lda_module.PassMonitor = base
    raise RuntimeError("fastcavi.lda.estimator no longer reports passes to PassMonitor; update "
                       "benchmarks/benchmarks/bench_lda.py")


class LDAPass:
    """One batch pass of ``LatentDirichletAllocation.fit`` (K=50, random E-step init)."""

    params = [BACKENDS, [1, 2], ["float32", "float64"]]
    param_names = ["backend", "n_jobs", "dtype"]
    number = 1
    repeat = (1, 5, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup_cache(self):
        return _load_corpus()

    def setup(self, X, backend, n_jobs, dtype):
        skip_numpy_threads(backend, n_jobs)
        self.X = X.astype(dtype)
        self.n_tokens = float(X.sum())
        # compile (Numba) and touch every kernel outside the timed region
        _one_pass(self.X[:200], backend, n_jobs)

    def time_pass(self, X, backend, n_jobs, dtype):
        _one_pass(self.X, backend, n_jobs)

    def track_tokens_per_s(self, X, backend, n_jobs, dtype):
        t = time.perf_counter()
        _one_pass(self.X, backend, n_jobs)
        return self.n_tokens / (time.perf_counter() - t)

    track_tokens_per_s.unit = "tokens/s"


class EStepKernel:
    """The backend's ``lda_e_step`` alone, on topics fitted for one pass."""

    params = [BACKENDS, [1, 2], ["float32", "float64"]]
    param_names = ["backend", "n_jobs", "dtype"]
    number = 1
    repeat = (1, 5, 20.0)
    warmup_time = 0.0
    timeout = 300

    def setup_cache(self):
        from fastcavi import LatentDirichletAllocation

        X = _load_corpus()
        compiled = [b for b in BACKENDS if b != "numpy"]
        est = LatentDirichletAllocation(N_TOPICS, max_iter=1, e_step_init="random",
                                        backend=(compiled or BACKENDS)[0], random_state=SEED)
        est.fit(X)
        return X, est.components_

    def setup(self, cache, backend, n_jobs, dtype):
        from fastcavi.kernels import get_backend

        skip_numpy_threads(backend, n_jobs)
        X, lam = cache
        X = X.astype(dtype)
        self.kernels = get_backend(backend)
        self.n_jobs = n_jobs
        self.data, self.indices, self.indptr = X.data, X.indices, X.indptr
        n_docs, n_words = X.shape
        lam = lam.astype(dtype)
        self.ebeta = np.empty((n_words, N_TOPICS), dtype=dtype)
        self.kernels.exp_dirichlet_expectation_T(lam, 1.0 / N_TOPICS, self.ebeta, False, n_jobs)
        self.alpha = np.full(N_TOPICS, 1.0 / N_TOPICS, dtype=dtype)
        rs = np.random.RandomState(SEED)
        self.gamma0 = rs.gamma(100.0, 0.01, (n_docs, N_TOPICS)).astype(dtype)
        self.gamma = np.empty_like(self.gamma0)
        self.exp_doc_topic = np.empty_like(self.gamma0)
        self.ratio = np.empty_like(self.data)
        self.doc_bound = np.empty(n_docs, dtype=np.float64)
        self.eps = float(np.finfo(dtype).eps)
        self.n_tokens = float(X.sum())
        self.time_lda_e_step(cache, backend, n_jobs, dtype)  # compile outside the timing

    def time_lda_e_step(self, cache, backend, n_jobs, dtype):
        np.copyto(self.gamma, self.gamma0)
        self.kernels.lda_e_step(self.data, self.indices, self.indptr, self.ebeta, self.alpha,
                                self.gamma, 100, 1e-3, self.eps, self.exp_doc_topic, self.ratio,
                                self.doc_bound, self.n_jobs)


def _simd_variants():
    """The Cython extension's SIMD variants (see ``fastcavi._ext._lda.simd_variants``)."""
    if "cython" not in BACKENDS:
        return []
    try:
        import fastcavi._ext._lda as ext
    except ImportError:  # pragma: no cover - the probe said it imports
        return []
    return ext.simd_variants()


class CythonSimdVariants(EStepKernel):
    """The Cython ``lda_e_step`` under each SIMD variant, one thread.

    "scalar" keeps libm's special functions; the vector variants also compute
    exp(psi(gamma)) and the per-document bound in vectors (csrc/_lda.pyx).
    """

    params = [_simd_variants(), ["float32", "float64"]]
    param_names = ["variant", "dtype"]

    def setup(self, cache, variant, dtype):
        import fastcavi._ext._lda as ext

        self._previous = ext._set_simd(variant)
        super().setup(cache, "cython", 1, dtype)

    def teardown(self, cache, variant, dtype):
        import fastcavi._ext._lda as ext

        ext._set_simd(self._previous)

    def time_lda_e_step(self, cache, *params):
        # (variant, dtype) from asv, or (backend, n_jobs, dtype) from EStepKernel.setup
        super().time_lda_e_step(cache, "cython", 1, params[-1])
