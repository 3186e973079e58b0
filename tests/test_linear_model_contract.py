"""The engine's model contract (tests/contract.py) for VB linear and VB logistic regression.

Each model runs on the NumPy reference and the Numba and Cython kernels
(``require_backend``: a missing backend fails), over unequal row blocks.
Beside the contract: a fit over several blocks is the one-block fit, the
estimators' ``fit`` is ``run_cavi`` on the model, and the evaluate-first
driver (VB logistic) counts global steps and evaluates the state it returns.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import require_backend
from contract import ModelContract, _flat
from fastcavi.engine import ElboGain, PassMonitor, run_cavi
from fastcavi.linear_model import VBLinearRegression, VBLogisticRegression
from fastcavi.linear_model.gaussian import LinearModel, RowBlock, StackedRows, weighted_means
from fastcavi.linear_model.jaakkola import LogisticModel

#: unequal blocks of rows
BLOCK_ROWS = (90, 25, 45)
D = 6


def regression_data(seed=0, d=D, rows=BLOCK_ROWS):
    rng = np.random.default_rng(seed)
    n = sum(rows)
    X = rng.standard_normal((n, d)) + 0.5
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) + 2.0
    return np.ascontiguousarray(X), y, rng.uniform(0.5, 2.0, n)


def blocks_of(X, y, w, rows=BLOCK_ROWS):
    cuts = np.cumsum((0,) + tuple(rows))
    return [RowBlock(X[a:b], y[a:b], w[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


def join(blocks):
    X = [b.X for b in blocks]
    X = sp.vstack(X, format="csr") if sp.issparse(X[0]) else np.concatenate(X)
    return RowBlock(X, np.concatenate([b.y for b in blocks]), np.concatenate([b.w for b in blocks]))


class RowsContract(ModelContract):
    """The blocks and the initial state both linear models' contracts use."""

    backends = ("numpy", "numba", "cython")

    def data(self):
        return blocks_of(*self._data())

    def concatenate(self, blocks):
        return join(blocks)

    def init_global(self, model):
        return model.initial_state(np.ones(D))


class LinearContract(RowsContract):
    """VB linear regression, learning a shared (or ARD) weight precision."""

    ard = False
    dual = False
    sparse = False
    fit_intercept = True

    def _data(self):
        X, y, w = regression_data()
        return (sp.csr_matrix(X) if self.sparse else X), y, w

    def make_model(self, backend, n_jobs):
        X, y, w = self._data()
        shift = weighted_means(X, y, w) if self.fit_intercept else (np.zeros(D), 0.0)
        return LinearModel(require_backend(backend, "regression"), n_jobs,
                           fit_intercept=self.fit_intercept, x_shift=shift[0], y_shift=shift[1],
                           dual=self.dual, a0=1e-6, b0=1e-6, c0=1e-6, d0=1e-6, ard=self.ard,
                           learn_alpha=True)


class TestLinearContract(LinearContract):
    pass


class TestLinearArdContract(LinearContract):
    ard = True


class TestLinearNoInterceptContract(LinearContract):
    fit_intercept = False


class TestLinearSparseContract(LinearContract):
    sparse = True
    backends = ("numpy",)  # the sparse Gram is scipy.sparse's, whatever the backend


class TestLinearDualContract(LinearContract):
    dual = True
    backends = ("numpy",)  # the dual path is LAPACK on the rows, whatever the backend


class LogisticContract(RowsContract):
    """One binary VB logistic problem (Jaakkola-Jordan), evaluated before its steps."""

    ard = False
    intercept = True

    def _data(self):
        X, y, w = regression_data(1)
        return X, np.where(y > np.median(y), 1.0, -1.0), w

    def make_model(self, backend, n_jobs):
        return LogisticModel(require_backend(backend, "regression"), n_jobs, D,
                             intercept=self.intercept, beta0=1e-2, c0=1e-2, d0=1e-4,
                             ard=self.ard, learn_alpha=True)


class TestLogisticContract(LogisticContract):
    pass


class TestLogisticArdNoInterceptContract(LogisticContract):
    ard = True
    intercept = False


# ------------------------------------------------------------------ beside the contract
def test_stacked_rows_are_the_moments_they_stand_for():
    X, y, w = regression_data()
    parts = [StackedRows(b.X * np.sqrt(b.w)[:, None], b.y * np.sqrt(b.w))
             for b in blocks_of(X, y, w)]
    whole = parts[0] + parts[1] + parts[2]
    assert whole.B.shape == X.shape and whole.z.shape == y.shape
    want = np.concatenate([((X * w[:, None]).T @ X).ravel(), X.T @ (w * y), [y @ (w * y)]])
    np.testing.assert_allclose(np.asarray(whole), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(whole * 4.0), 4.0 * np.asarray(whole), rtol=1e-14)


@pytest.mark.parametrize("contract", [TestLinearContract, TestLinearArdContract,
                                      TestLinearSparseContract, TestLinearDualContract,
                                      TestLogisticContract])
def test_a_fit_over_blocks_is_the_one_block_fit(contract):
    c = contract()
    model = c.make_model("numpy", 1)
    g0 = c.init_global(model)
    one = run_cavi(model, [join(c.data())], g0, max_iter=10)
    three = run_cavi(model, c.data(), g0, max_iter=10)
    np.testing.assert_allclose(_flat(three.g), _flat(one.g), rtol=1e-9)
    # (1e-10: the dual path's Woodbury solves lose digits to cancellation)
    np.testing.assert_allclose(three.elbo_history, one.elbo_history, rtol=1e-10)


def test_linear_estimator_fit_is_run_cavi_on_the_model():
    X, y, w = regression_data()
    est = VBLinearRegression(ard=True, tol=0.0, max_iter=7, backend="numba").fit(X, y, w)
    model = LinearModel(require_backend("numba", "regression"), 1, fit_intercept=True,
                        x_shift=weighted_means(X, y, w)[0], y_shift=weighted_means(X, y, w)[1],
                        dual=False, a0=1e-6, b0=1e-6, c0=1e-6, d0=1e-6, ard=True,
                        learn_alpha=True)
    res = run_cavi(model, [RowBlock(X, y, w)], model.initial_state(np.ones(D)), max_iter=7)
    assert res.n_iter == est.n_iter_ == 7
    assert res.elbo_history == est.elbo_history_
    np.testing.assert_array_equal(res.g.sol.m, est.coef_)
    np.testing.assert_array_equal(res.g.e_alpha, est.lambda_)


def test_logistic_estimator_fit_is_run_cavi_on_the_model():
    X, y, w = regression_data(1)
    labels = (y > np.median(y)).astype(int)
    est = VBLogisticRegression(tol=0.0, max_iter=5, backend="numba").fit(X, labels, w)
    model = LogisticModel(require_backend("numba", "regression"), 1, D, intercept=True,
                          beta0=est.intercept_precision, c0=est.lambda_1, d0=est.lambda_2,
                          ard=False, learn_alpha=True)
    t = np.where(labels == 1, 1.0, -1.0)
    res = run_cavi(model, [RowBlock(X, t, w)], model.initial_state(np.ones(D)), max_iter=5)
    assert res.n_iter == est.n_iter_[0] == 5
    assert res.elbo_history == est.elbo_history_[0]
    np.testing.assert_array_equal(res.g.mu[:D], est.coef_[0])


@pytest.mark.parametrize("max_iter", [1, 4])
def test_evaluate_first_driver_steps_max_iter_times_and_evaluates_the_last_state(max_iter):
    """n_iter counts global steps; the returned state is the one whose ELBO was last evaluated."""
    c = TestLogisticContract()
    model = c.make_model("numpy", 1)
    block = join(c.data())
    calls = []
    real = model.local_step
    model.local_step = lambda *a, **k: (calls.append(k["for_step"]), real(*a, **k))[1]
    monitor = PassMonitor(max_iter, 1.0)
    res = run_cavi(model, [block], c.init_global(model), max_iter=max_iter, monitor=monitor)
    monitor.close()
    assert res.n_iter == max_iter and not res.converged
    assert calls == [True] * max_iter + [False]  # the last sweep only evaluates
    assert len(res.elbo_history) == max_iter + 1 and len(monitor.pass_seconds) == max_iter
    local = model.init_local(block, res.g, None)
    stats, _ = real(block, res.g, local)
    assert model.elbo(res.g, res.g, stats) == res.elbo_history[-1]


def test_evaluate_first_driver_stops_without_stepping_the_converged_state():
    c = TestLogisticContract()
    model = c.make_model("numpy", 1)
    block = join(c.data())
    res = run_cavi(model, [block], c.init_global(model), max_iter=500,
                   stop=ElboGain(1e-3, weight=float(block.w.sum())))
    assert res.converged and 1 <= res.n_iter < 500
    assert len(res.elbo_history) == res.n_iter + 1
    gains = np.diff(res.elbo_history)
    assert gains[-1] < 1e-3 * block.w.sum() and np.all(gains[:-1] >= 1e-3 * block.w.sum())


def test_linear_model_has_no_stochastic_step():
    c = TestLinearContract()
    model = c.make_model("numpy", 1)
    block = join(c.data())
    stats, _ = model.local_step(block, None, None)
    with pytest.raises(ValueError, match="rho must be 1"):
        model.global_step(c.init_global(model), stats, rho=0.5)


@pytest.mark.parametrize("make, unit", [
    (lambda: VBLinearRegression(progress_bar=True, max_iter=5, tol=0.0), "samples/s"),
    (lambda: VBLogisticRegression(progress_bar=True, max_iter=5, tol=0.0), "samples/s"),
])
def test_progress_bar_shows_every_iteration_with_its_elbo(make, unit, capsys):
    X, y, w = regression_data()
    target = y if isinstance(make(), VBLinearRegression) else (y > np.median(y)).astype(int)
    est = make().fit(X, target, w)
    err = capsys.readouterr().err
    assert f"{est.max_iter}/{est.max_iter}" in err and unit in err and "elbo=" in err
    make().set_params(progress_bar=False).fit(X, target, w)
    assert capsys.readouterr().err == ""
