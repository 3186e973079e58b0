"""The measuring harness of ``compare_lda.py``: per-pass timing, held-out scoring, data.

Shared by ``compare_lda.py`` (with ``_lda_gensim.py``) and ``compare_lda_online.py``:

- per-pass timing: :class:`PassLog` (a pausable clock, a hook per pass, an
  early stop by :class:`StopFit`), fastcavi's and scikit-learn's estimators
  with a per-pass hook, and :func:`_run` to fit one with a PassLog attached;
- held-out evaluation: :class:`HeldOut` scores fastcavi, scikit-learn and
  gensim topics identically by document completion, and :func:`first_reach`
  finds the pass at which a run reaches a target perplexity;
- data: :func:`load_data` loads 20 Newsgroups or the bundled SOTU sentences.

Not a script: the scripts import it as a sibling module (``benchmarks/`` is on
``sys.path`` when they run).
"""

import copy
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "20newsgroups"


# --------------------------------------------------------------------------
# per-pass timing
# --------------------------------------------------------------------------

class StopFit(Exception):
    """Raised from a per-pass hook to end a fit early."""


class PassLog:
    """Wall-clock times of the passes of one fit, with a pausable clock.

    ``begin()`` at the start of ``fit``; ``mark_init()`` when the first pass
    starts; ``end_pass(*state)`` at the end of each pass. ``on_pass(p, *state)``
    (evaluation) runs with the clock paused and returns a value stored in
    ``values``; ``stop(p, value)`` returning True ends the fit by StopFit.
    Times are seconds since ``begin()``, evaluation excluded.
    """

    def __init__(self, on_pass=None, stop=None):
        self.on_pass = on_pass
        self.stop = stop
        self.init_time = None
        self.ends = []
        self.values = []
        self.train_elbo = []
        self._t0 = None
        self._paused = 0.0

    def begin(self):
        self.init_time = None
        self.ends, self.values, self.train_elbo = [], [], []
        self._paused = 0.0
        self._t0 = time.perf_counter()

    def now(self):
        return time.perf_counter() - self._t0 - self._paused

    @contextmanager
    def paused(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - t

    def mark_init(self):
        self.init_time = self.now()

    def end_pass(self, *state):
        self.ends.append(self.now())
        p = len(self.ends)
        value = None
        with self.paused():
            if self.on_pass is not None:
                value = self.on_pass(p, *state)
            self.values.append(value)
            stop = self.stop is not None and self.stop(p, value)
        if stop:
            raise StopFit

    @property
    def pass_seconds(self):
        start = 0.0 if self.init_time is None else self.init_time
        return np.diff(np.concatenate(([start], self.ends)))


def _hooked_fastcavi():
    from fastcavi import LatentDirichletAllocation

    import fastcavi.lda.estimator as lda_module

    class HookedFastLDA(LatentDirichletAllocation):
        """fastcavi's estimator with a per-pass hook (batch and online learning).

        ``fit`` builds one ``PassMonitor`` (from :mod:`fastcavi.engine`, looked
        up in :mod:`fastcavi.lda.estimator`) after initialisation, and runs the
        passes with ``run_cavi`` (looked up there too), whose ``on_pass`` calls
        the monitor's ``end_pass`` after every pass. During a hooked fit the
        first name is bound to a subclass reporting to the PassLog, and the
        second to ``run_cavi`` with an ``on_pass`` that first notes the pass's
        topics (lambda and exp(E[log beta]) of the state after the pass).
        """

        _log = None

        def fit(self, X, y=None):
            log = self._log
            if log is None:
                return super().fit(X, y)
            est = self
            base, base_run = lda_module.PassMonitor, lda_module.run_cavi

            class Monitor(base):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    log.mark_init()

                def end_pass(self, i, elbo, *args, **kwargs):
                    super().end_pass(i, elbo, *args, **kwargs)
                    log.train_elbo.append(float(elbo))
                    log.end_pass(est, *est._latest_topics)

            def run_cavi(*args, on_pass, **kwargs):
                def noted(record):
                    if record.g.ebeta is None:
                        raise RuntimeError("fastcavi.lda's state after a pass has no "
                                           "exp(E[log beta]): update benchmarks/_lda_harness.py")
                    est._latest_topics = (record.g.lam, record.g.ebeta)
                    on_pass(record)
                return base_run(*args, on_pass=noted, **kwargs)

            lda_module.PassMonitor, lda_module.run_cavi = Monitor, run_cavi
            try:
                log.begin()
                super().fit(X, y)
            finally:
                lda_module.PassMonitor, lda_module.run_cavi = base, base_run
            if log.init_time is None:
                raise RuntimeError("fastcavi.lda no longer uses PassMonitor: update the "
                                   "per-pass hook of benchmarks/_lda_harness.py")
            return self

    return HookedFastLDA


def _hooked_sklearn():
    from sklearn.decomposition import LatentDirichletAllocation

    class HookedSkLDA(LatentDirichletAllocation):
        """scikit-learn's estimator with a per-pass hook on ``_em_step``."""

        _log = None

        def fit(self, X, y=None):
            if self._log is not None:
                self._log.begin()
            return super().fit(X, y)

        def _em_step(self, X, total_samples, batch_update, parallel=None):
            log = self._log
            if log is not None and log.init_time is None:
                log.mark_init()
            out = super()._em_step(X, total_samples, batch_update, parallel)
            if log is not None:
                log.end_pass(self, self.components_)
            return out

    return HookedSkLDA


def _run(est, X, log):
    """Fit with a PassLog attached; returns the estimator (complete or stopped)."""
    est._log = log
    try:
        est.fit(X)
    except StopFit:
        pass
    finally:
        est._log = None
    return est


# --------------------------------------------------------------------------
# held-out evaluation (identical scoring for the three libraries)
# --------------------------------------------------------------------------

class HeldOut:
    def __init__(self, X_test, seed):
        from fastcavi.metrics import split_document_tokens

        self.X_obs, self.X_held = split_document_tokens(X_test, 0.5, seed)
        self.seed = seed
        self._obs32 = None
        self._bow = None

    def obs(self, dtype):
        if np.dtype(dtype) == np.float32:
            if self._obs32 is None:
                self._obs32 = self.X_obs.astype(np.float32)
            return self._obs32
        return self.X_obs

    def score(self, theta, topic_word):
        from fastcavi.metrics import completion_perplexity

        return completion_perplexity(theta, topic_word, self.X_held)

    def fastcavi(self, est, lam, ebeta):
        """Perplexity of fastcavi topics ``lam`` (exp(E log beta) = ``ebeta``)."""
        ev = copy.copy(est)
        ev._log = None
        # the same inference for every model scored: scikit-learn's defaults, whatever the
        # E-step settings the model was trained with
        ev.max_doc_update_iter, ev.mean_change_tol = 100, 1e-3
        ev.components_ = lam
        ev._exp_topic_word = ebeta
        ev.exp_dirichlet_component_ = ebeta.T
        ev._alpha = np.asarray(ev._resolve_alpha())
        with threadpool_limits(1):
            theta = ev.transform(self.obs(lam.dtype))
        return self.score(theta, lam)

    def sklearn(self, est):
        with threadpool_limits(1):
            theta = est.transform(self.obs(est.components_.dtype))
        return self.score(theta, est.components_)

    def gensim(self, model):
        from gensim.matutils import Sparse2Corpus

        if self._bow is None:
            self._bow = list(Sparse2Corpus(self.X_obs, documents_columns=False))
        state = model.random_state.get_state()  # inference draws gamma: leave training as is
        try:
            with threadpool_limits(1):
                gamma, _ = model.inference(self._bow)
        finally:
            model.random_state.set_state(state)
        return self.score(gamma, model.get_topics())


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def load_data(args):
    """(X_train, X_test, description), float64 CSR with whole-number counts."""
    if args.corpus == "20newsgroups":
        from fastcavi.datasets import load_20newsgroups_counts

        path = Path(args.data)
        if not path.is_dir():
            sys.exit(f"error: 20newsgroups folder not found: {path} (pass --data PATH, or "
                     "--corpus sotu-sentence for the bundled corpus)")
        X_train = load_20newsgroups_counts(path, "train").X
        X_test = load_20newsgroups_counts(path, "test").X
        desc = f"20newsgroups bydate from {path}"
    else:
        from fastcavi.datasets import load_sotu

        X = load_sotu(unit="sentence").X
        rs = np.random.RandomState(args.seed)
        perm = rs.permutation(X.shape[0])
        n_test = X.shape[0] // 10
        test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        X_train, X_test = X[train], X[test]
        desc = f"SOTU sentences (bundled), random 10% of documents held out (seed {args.seed})"
    if args.max_train_docs:
        X_train = X_train[: args.max_train_docs]
    if args.max_test_docs:
        X_test = X_test[: args.max_test_docs]
    X_train = sp.csr_matrix(X_train, dtype=np.float64)
    X_test = sp.csr_matrix(X_test, dtype=np.float64)
    return X_train, X_test, desc


# --------------------------------------------------------------------------
# reaching a target perplexity
# --------------------------------------------------------------------------

# "reached" allows rounding: fastcavi's default mode runs scikit-learn's iterates, and the
# perplexity of the same pass differs from scikit-learn's in the 7th-9th digit
REACH_RTOL = 1e-5


def reached(value, target):
    return value is not None and value <= target * (1.0 + REACH_RTOL)


def first_reach(values, target):
    for i, v in enumerate(values):
        if reached(v, target):
            return i + 1
    return None
