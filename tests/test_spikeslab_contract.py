"""The engine's model contract (tests/contract.py) for spike-and-slab regression.

One grid point's model on the NumPy reference and the Numba and Cython
kernels (``require_backend``: a missing backend fails), dense and sparse.
Additivity over blocks does not apply: the sweep is coordinate ascent over
the features, each update reading the residual the previous one left, so the
model has a single block (the whole design); what the contract can check
there it does, and the test says why it skips.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import require_backend
from contract import ModelContract, _flat
from fastcavi.engine import Below, Cancelled, map_threads, run_cavi
from fastcavi.linear_model import SpikeSlabRegression
from fastcavi.linear_model.spikeslab_model import Problem, SpikeSlabModel

N, P = 120, 30


def design(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P)) + 0.2
    beta = np.zeros(P)
    beta[:4] = [1.5, -1.0, 0.8, 0.5]
    y = X @ beta + rng.standard_normal(N) + 1.0
    return X, y, rng.uniform(0.5, 2.0, N)


def initial_q(prob, seed=0):
    rs = np.random.RandomState(seed)
    alpha0 = rs.uniform(size=P)
    alpha0 /= alpha0.sum()
    mu0 = rs.standard_normal(P)
    return (alpha0, mu0) + prob.product(alpha0 * mu0)


class SpikeSlabContract(ModelContract):
    backends = ("numpy", "numba", "cython")
    sparse = False
    point = (None, None, -1.0)  # sigma2 and sa estimated
    # inclusion probabilities of the null features are ~1e-9: compiled kernels differ
    # from the reference by rounding there (~1e-16 absolute), not relative to them
    reference_atol = 1e-13

    def problem(self):
        X, y, w = design()
        return Problem(sp.csc_matrix(X) if self.sparse else X, y, w, True)

    def make_model(self, backend, n_jobs):
        prob = self.problem()
        return SpikeSlabModel(require_backend(backend, "spikeslab"), n_jobs, prob,
                              initial_q(prob), self.point, 10.0, 1.0)

    def data(self):
        return [self.problem()]

    def init_global(self, model):
        return model.initial_state()

    def test_statistics_are_additive(self):
        pytest.skip("spike-and-slab has one block: its sweep is sequential over the features, "
                    "each update reading the residual the previous one left")


class TestSpikeSlabDenseContract(SpikeSlabContract):
    pass


class TestSpikeSlabSparseContract(SpikeSlabContract):
    sparse = True


class TestSpikeSlabFixedHyperparametersContract(SpikeSlabContract):
    point = (1.0, 0.5, -2.0)


def test_the_estimators_fit_is_run_cavi_on_the_model():
    X, y, w = design()
    est = SpikeSlabRegression(prior_logodds=-1.0, random_state=0, backend="numba",
                              max_iter=200).fit(X, y, w)
    prob = Problem(X, y, w, True)
    model = SpikeSlabModel(require_backend("numba", "spikeslab"), 1, prob, initial_q(prob),
                           (None, None, -1.0), est.slab_prior_dof, est.slab_prior_scale)
    res = run_cavi(model, [prob], model.initial_state(), max_iter=200,
                   stop=Below(est.tol, model.change))
    assert res.converged and res.n_iter == est.n_iter_
    np.testing.assert_array_equal(res.elbo_history, est.elbo_history_)
    np.testing.assert_array_equal(res.locals[0].alpha * res.locals[0].mu, est.coef_)


def test_a_cancelled_fit_raises_before_its_next_sweep():
    contract = TestSpikeSlabDenseContract()
    model = contract.make_model("numpy", 1)
    sweeps = []
    real = model.local_step
    model.local_step = lambda *a: (sweeps.append(1), real(*a))[1]

    class SetAfterTwo:
        def is_set(self):
            return len(sweeps) >= 2

    with pytest.raises(Cancelled):
        run_cavi(model, contract.data(), contract.init_global(model), max_iter=50,
                 cancel=SetAfterTwo())
    assert len(sweeps) == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_map_threads_keeps_item_order_and_reports_each_fit(workers):
    contract = TestSpikeSlabDenseContract()
    done = []

    prob = contract.problem()

    def fit(logodds, cancel):  # (threads share nothing but the read-only problem)
        model = SpikeSlabModel(require_backend("numpy", "spikeslab"), 1, prob, initial_q(prob),
                               (None, None, logodds), 10.0, 1.0)
        return run_cavi(model, [prob], model.initial_state(), max_iter=30, cancel=cancel)

    items = [-3.0, -2.0, -1.0]
    results = map_threads(fit, items, workers, on_done=lambda i, r: done.append(i))
    assert sorted(done) == [0, 1, 2]
    serial = [fit(x, None) for x in items]
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(_flat(got.g), _flat(want.g))


def test_progress_bar_steps_once_per_grid_point(capsys):
    X, y, w = design()
    SpikeSlabRegression(prior_logodds=[-3.0, -2.0, -1.0], random_state=0, n_jobs=2,
                        progress_bar=True).fit(X, y, w)
    err = capsys.readouterr().err
    assert "3/3" in err and "grid points/s" in err and "elbo=" in err
    SpikeSlabRegression(prior_logodds=-1.0, random_state=0, progress_bar=True).fit(X, y, w)
    assert "entries/s" in capsys.readouterr().err
