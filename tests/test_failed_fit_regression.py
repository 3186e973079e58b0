"""A fit that raises leaves a regression estimator exactly as it was.

For VBLinearRegression, VBLogisticRegression (binary and one-vs-rest) and
SpikeSlabRegression (one grid point, dense and sparse, and a grid fitted on
two threads), on every kernel backend: fit a model on a DataFrame (so that
``feature_names_in_`` is set), take a deep snapshot of ``vars()``, then make a
second fit fail on new data with one more column and no feature names, so
that a fit which changed anything before failing (scikit-learn's
``validate_data`` resets ``n_features_in_`` and ``feature_names_in_`` first)
shows up:

- at validation: negative weights, a target with nothing to fit, NaN;
- in the middle of the CAVI loop: a kernel (for the linear model, whose only
  fitting kernel runs once before the loop, the per-iteration posterior
  solve) returns NaN on its 2nd call, or raises KeyboardInterrupt on its 2nd
  call.

Then the error must be the documented one (a NaN becomes a
FloatingPointError naming the ELBO, never a silently NaN model), the state
must equal the snapshot (``assert_state_equal``: every attribute, deeply) and
``predict`` must give bit-identical predictions; an estimator whose first fit
fails stays unfitted. The restore is shallow, so a last test checks that a
successful refit writes into no object the previous fit published. None of
these estimators has ``partial_fit``.
"""

import inspect
import threading

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import fastcavi.linear_model.gaussian as regression_model
import fastcavi.engine.parallel as parallel_module
from conftest import assert_state_equal, require_backend, snapshot_state
from fastcavi.linear_model import regression_reference, spikeslab_reference
from fastcavi.linear_model import VBLinearRegression, VBLogisticRegression
from fastcavi.spikeslab import SpikeSlabRegression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BACKENDS = ("numpy", "numba", "cython")
N = 80
_rng = np.random.default_rng(0)
X_OLD = pd.DataFrame(_rng.standard_normal((N, 4)), columns=["a", "b", "c", "d"])
Y_OLD = X_OLD.to_numpy() @ [1.0, -1.0, 0.5, 0.0] + 0.5 * _rng.standard_normal(N)
X_NEW = np.c_[X_OLD.to_numpy(), _rng.standard_normal(N)] + 0.3
Y_NEW = Y_OLD + 0.4 * X_NEW[:, 4]

#: kind -> (estimator factory, kernel family)
KINDS = {
    "linear": (lambda b: VBLinearRegression(backend=b), "regression"),
    "logistic": (lambda b: VBLogisticRegression(backend=b), "regression"),
    "logistic-ovr": (lambda b: VBLogisticRegression(backend=b), "regression"),
    "spikeslab": (lambda b: SpikeSlabRegression(backend=b, prior_logodds=-1.0,
                                                random_state=0), "spikeslab"),
    "spikeslab-sparse": (lambda b: SpikeSlabRegression(backend=b, prior_logodds=-1.0,
                                                       random_state=0), "spikeslab"),
    # six grid points on two threads
    "spikeslab-grid": (lambda b: SpikeSlabRegression(
        backend=b, prior_logodds=[-3.0, -2.0, -1.5, -1.0, -0.5, 0.0], n_jobs=2, max_iter=2000,
        random_state=0), "spikeslab"),
}
#: set after the first fit, before the snapshot, for the failing fit: with tol=0 no
#: grid point stops by itself, so a point not stopped would make all max_iter sweeps
FAILING_FIT_PARAMS = {"spikeslab-grid": {"tol": 0.0}}


def target(kind, y):
    """The target of ``kind`` made from a continuous y."""
    if kind == "logistic":
        return (y > 0).astype(int)
    if kind == "logistic-ovr":
        return np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return y


def new_X(kind, n_features=X_NEW.shape[1]):
    """The failing fit's design: X_NEW, sparse for the sparse spike-and-slab kernel."""
    X = X_NEW[:, :n_features]
    return sp.csr_matrix(X) if kind == "spikeslab-sparse" else X


def predictions(est, X):
    """Everything the fitted model predicts for X, as a tuple of arrays."""
    if isinstance(est, VBLinearRegression):
        return est.predict(X, return_std=True)
    if isinstance(est, VBLogisticRegression):
        return est.predict_proba(X), est.decision_function(X)
    return (est.predict(X),)


def fitted(kind, backend, params=None):
    """A model of ``kind`` fitted on (X_OLD, Y_OLD), then ``params`` set; state, predictions."""
    make, family = KINDS[kind]
    require_backend(backend, family)
    est = make(backend).fit(X_OLD, target(kind, Y_OLD))
    assert list(est.feature_names_in_) == list(X_OLD.columns)
    est.set_params(**(params or {}))
    return est, snapshot_state(est), predictions(est, X_OLD)


def assert_unchanged(est, before, preds):
    """The state equals the snapshot and the predictions are bit-identical."""
    assert_state_equal(before, snapshot_state(est))
    for old, now in zip(preds, predictions(est, X_OLD), strict=True):
        np.testing.assert_array_equal(now, old)


def nothing_to_fit(kind):
    """A target of the right type on which fit must fail: constant, or one class."""
    return np.zeros(N, dtype=int) if kind.startswith("logistic") else np.full(N, 2.5)


BAD_INPUTS = {
    "negative weight": (
        lambda kind: (new_X(kind), target(kind, Y_NEW), np.r_[-1.0, np.ones(N - 1)]),
        ValueError, "Negative values in data passed to `sample_weight`"),
    "nothing to fit": (
        lambda kind: (new_X(kind), nothing_to_fit(kind), None),
        ValueError, "y is constant|only one class"),
    "NaN": (
        lambda kind: (np.where(X_NEW > 2.0, np.nan, X_NEW), target(kind, Y_NEW), None),
        ValueError, "Input X contains NaN"),
    "NaN under new feature names": (
        lambda kind: (pd.DataFrame(np.where(X_NEW > 2.0, np.nan, X_NEW), columns=list("vwxyz")),
                      target(kind, Y_NEW), None),
        ValueError, "Input X contains NaN"),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_invalid_input_leaves_model_unchanged(kind, backend, bad):
    est, before, preds = fitted(kind, backend)
    make_input, error, match = BAD_INPUTS[bad]
    X, y, sample_weight = make_input(kind)
    with pytest.raises(error, match=match):
        est.fit(X, y, sample_weight=sample_weight)
    assert_unchanged(est, before, preds)


class Faulty:
    """``fn`` whose ``at``-th call raises KeyboardInterrupt or has its output poisoned.

    Thread-safe call counter (``calls``); ``poison(out, arguments)`` gets the
    call's result and its arguments by name, writes NaN into them and
    returns the new result. ``gate``, if set, is called before every call
    after the ``at``-th (see :func:`hold_grid_until_stopped`).
    """

    def __init__(self, fn, at, failure, poison, signature=None):
        self.fn, self.at, self.failure, self.poison = fn, at, failure, poison
        self.signature = signature or inspect.signature(fn)
        self.calls = 0
        self.reached = threading.Event()  # set at the at-th call
        self.gate = None
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
            k = self.calls
        if k == self.at:
            self.reached.set()
            if self.failure == "interrupt":
                raise KeyboardInterrupt
        elif k > self.at and self.gate is not None:
            self.gate()
        out = self.fn(*args, **kwargs)
        if k == self.at and self.failure == "nan":
            out = self.poison(out, self.signature.bind(*args, **kwargs).arguments)
        return out


def _nan_mean(sol, arguments):
    sol.m = np.full_like(sol.m, np.nan)
    return sol


def _nan_jj_step(data, arguments):
    arguments["G"][...] = np.nan  # the weighted Gram matrix it returns in place
    return np.nan  # the data term of the ELBO


def _nan_gram(out, arguments):
    arguments["G"][...] = np.nan
    return out


def _nan_mu(out, arguments):
    arguments["mu"][...] = np.nan  # the slab means the sweep updates in place
    return out


def inject(kind, backend, monkeypatch, failure, at=2):
    """Patch the function called inside ``kind``'s CAVI loop; return the Faulty wrapper."""
    if kind == "linear":
        # the per-iteration solve for q(w | tau) (weighted_gram, its kernel, runs once)
        fault = Faulty(regression_model._Solve, at, failure, _nan_mean)
        monkeypatch.setattr(regression_model, "_Solve", fault)
        return fault
    family = KINDS[kind][1]
    kernels = require_backend(backend, family)
    if family == "regression":
        name, reference, poison = "jj_step", regression_reference, _nan_jj_step
    else:
        name = "spikeslab_sweep_csc" if kind == "spikeslab-sparse" else "spikeslab_sweep_dense"
        reference, poison = spikeslab_reference, _nan_mu
    # the compiled kernels have the reference's signature (arguments bound by its names)
    fault = Faulty(getattr(kernels, name), at, failure, poison,
                   inspect.signature(getattr(reference, name)))
    monkeypatch.setattr(kernels, name, fault)
    return fault


def hold_grid_until_stopped(monkeypatch, fault):
    """Make the sweeps after ``fault``'s failing call wait until the grid is told to stop.

    The grid's stop event (``stop`` of ``SpikeSlabRegression._fit_point``) is
    recorded; a sweep after the at-th waits for it, so however the threads
    are scheduled (the thread that must see the failure can be starved of the
    GIL for thousands of sweeps), each worker can make at most one sweep
    after the failure: the test bounds the sweeps exactly.
    """
    fit_point = SpikeSlabRegression._fit_point
    signature = inspect.signature(fit_point)
    stops = []

    def recording_fit_point(*args, **kwargs):
        stops.append(signature.bind(*args, **kwargs).arguments.get("stop"))
        return fit_point(*args, **kwargs)

    def gate():
        assert stops and stops[-1] is not None, "the grid points were given no stop event"
        assert stops[-1].wait(timeout=60), "the grid points were never told to stop"

    monkeypatch.setattr(SpikeSlabRegression, "_fit_point", recording_fit_point)
    fault.gate = gate


def second_problem_call(backend, n):
    """The n-th jj_step call of the second one-vs-rest problem of the failing fit."""
    dry = VBLogisticRegression(backend=backend).fit(X_NEW, target("logistic-ovr", Y_NEW))
    return int(dry.n_iter_[0]) + 1 + n  # each problem calls jj_step n_iter + 1 times


def arm(kind, backend, monkeypatch, failure):
    """Make the 2nd call inside the loop of ``kind``'s next fit fail (see :func:`inject`).

    One-vs-rest: the 2nd call of the second binary problem. Grid: the other
    workers' sweeps are held until the grid is told to stop.
    """
    at = second_problem_call(backend, 2) if kind == "logistic-ovr" else 2
    fault = inject(kind, backend, monkeypatch, failure, at)
    if kind == "spikeslab-grid":
        hold_grid_until_stopped(monkeypatch, fault)
    return fault


@pytest.mark.parametrize("failure, error, match", [
    ("nan", FloatingPointError, "the ELBO became nan"),
    ("interrupt", KeyboardInterrupt, None),
])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_failure_inside_the_loop_leaves_model_unchanged(kind, backend, failure, error, match,
                                                        monkeypatch):
    est, before, preds = fitted(kind, backend, FAILING_FIT_PARAMS.get(kind))
    fault = arm(kind, backend, monkeypatch, failure)
    with pytest.raises(error, match=match):
        est.fit(new_X(kind), target(kind, Y_NEW))
    assert fault.reached.is_set()
    assert_unchanged(est, before, preds)
    if kind == "spikeslab-grid":
        # each of the n_jobs workers made at most one more sweep; left running, the
        # other grid points would make all their max_iter sweeps before fit returned
        assert fault.calls <= fault.at + est.n_jobs


@pytest.mark.parametrize("failure", ["nan", "interrupt"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_failed_first_fit_leaves_estimator_unfitted(kind, backend, failure, monkeypatch):
    make, family = KINDS[kind]
    require_backend(backend, family)
    est = make(backend).set_params(**FAILING_FIT_PARAMS.get(kind, {}))
    before = snapshot_state(est)
    fault = arm(kind, backend, monkeypatch, failure)
    with pytest.raises(FloatingPointError if failure == "nan" else KeyboardInterrupt):
        est.fit(new_X(kind), target(kind, Y_NEW))
    assert fault.reached.is_set()
    assert_state_equal(before, snapshot_state(est))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_nan_from_gram_kernel(backend, monkeypatch):
    """A NaN from the linear model's kernel (before the loop) is an error, not a NaN model."""
    est, before, preds = fitted("linear", backend)
    kernels = require_backend(backend, "regression")
    fault = Faulty(kernels.weighted_gram, 1, "nan", _nan_gram,
                   inspect.signature(regression_reference.weighted_gram))
    monkeypatch.setattr(kernels, "weighted_gram", fault)
    with pytest.raises(FloatingPointError, match="the ELBO became nan at pass 1"):
        est.fit(X_NEW, Y_NEW)
    assert fault.calls == 1
    assert_unchanged(est, before, preds)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_interrupted_while_waiting(backend, monkeypatch):
    """Ctrl-C in the thread waiting for the grid: workers stop, nothing is left half-done.

    The interrupt is raised where the calling thread waits for the grid
    points (``concurrent.futures.wait``), once a worker has made its 2nd sweep.
    """
    est, before, preds = fitted("spikeslab-grid", backend, FAILING_FIT_PARAMS["spikeslab-grid"])
    fault = arm("spikeslab-grid", backend, monkeypatch, failure=None)
    real_wait = parallel_module.wait

    def interrupted_wait(futures, *args, **kwargs):
        assert fault.reached.wait(timeout=60), "no worker made a 2nd sweep"
        monkeypatch.setattr(parallel_module, "wait", real_wait)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel_module, "wait", interrupted_wait)
    threads = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        est.fit(X_NEW, Y_NEW)
    assert set(threading.enumerate()) <= threads  # every worker has finished
    assert fault.calls <= fault.at + est.n_jobs
    assert_unchanged(est, before, preds)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_refit_writes_no_published_array(kind, backend):
    """A refit leaves every object the previous fit published as it was.

    ``fit_transaction`` restores ``vars()`` shallowly: it relies on fitting
    code building new arrays (and lists) instead of writing into those of
    the previous model. A successful refit runs all of that code; its data
    have the old shape, so that an array could be written in place.
    """
    est, before, _ = fitted(kind, backend)
    published = dict(vars(est))  # the objects themselves, not copies
    est.fit(new_X(kind, X_OLD.shape[1]), target(kind, Y_NEW))
    assert not hasattr(est, "feature_names_in_")
    assert_state_equal(before, published)
