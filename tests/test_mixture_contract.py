"""The engine's model contract (tests/contract.py) for the variational Gaussian mixture.

One test class per covariance type and weight prior, each run on the NumPy
reference and the Numba and Cython kernels (``require_backend``: a missing
backend fails). Beside the contract: the "tied" scatter merges exactly across
blocks, a fit over several blocks is the one-block fit, and the estimator's
``fit`` is the engine's ``run_cavi`` on the model.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import require_backend
from contract import ModelContract, _flat
from fastcavi.engine import run_cavi
from fastcavi.mixture import BayesianGaussianMixture
from fastcavi.mixture.model import Block, MixtureModel, Pruning
from fastcavi.mixture.priors import resolve_priors
from fastcavi.mixture.steps import Scatter, tied_scatter

COV_TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
K = 4
#: unequal blocks, the first spanning two of the compiled kernels' 256-row chunks
BLOCK_ROWS = (300, 70, 130)


def weighted_blobs(seed=0):
    """Three Gaussian clusters in 3-d with random sample weights."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0]])
    n = sum(BLOCK_ROWS)
    X = centres[rng.integers(0, 3, n)] + rng.normal(scale=0.8, size=(n, 3))
    return np.ascontiguousarray(X), rng.uniform(0.5, 2.0, n)


def blocks_of(X, w):
    cuts = np.cumsum((0,) + BLOCK_ROWS)
    return [Block(X[a:b], w[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


def join(blocks):
    return Block(np.concatenate([b.X for b in blocks]), np.concatenate([b.w for b in blocks]))


class MixtureContract(ModelContract):
    """The contract on :class:`MixtureModel` (``reg_covar=0``: the exact CAVI updates)."""

    backends = ("numpy", "numba", "cython")
    has_svi = True
    cov_type = prior_type = None

    def make_model(self, backend, n_jobs):
        X, w = weighted_blobs()
        priors = resolve_priors(X, w, self.cov_type, K)
        return MixtureModel(priors, self.cov_type, self.prior_type, 0.0, X.dtype,
                            require_backend(backend, "gmm"), n_jobs)

    def data(self):
        return blocks_of(*weighted_blobs())

    def concatenate(self, blocks):
        return join(blocks)

    def init_global(self, model):
        whole = join(self.data())
        resp = np.random.default_rng(1).dirichlet(np.ones(K), whole.X.shape[0])
        return model.init_from_resp(whole, resp)


for _ct in COV_TYPES:
    for _pt in PRIOR_TYPES:
        _name = f"Test{_ct.capitalize()}{''.join(s.capitalize() for s in _pt.split('_'))}Contract"
        globals()[_name] = type(_name, (MixtureContract,), {"cov_type": _ct, "prior_type": _pt})
del _ct, _pt, _name


# ------------------------------------------------------------------ beside the contract
def test_scatter_merges_blocks_exactly_and_scales():
    X, w = weighted_blobs()
    parts = [Scatter.of(b.X, b.w) for b in blocks_of(X, w)]
    merged = parts[0] + parts[1] + parts[2]
    whole = Scatter.of(X, w)
    assert merged.n == pytest.approx(whole.n, rel=1e-14)
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-13)
    np.testing.assert_allclose(merged.C, whole.C, rtol=1e-12)
    mean, C = tied_scatter(X, w)   # one block is exactly the direct computation
    np.testing.assert_array_equal(whole.mean, mean)
    np.testing.assert_array_equal(whole.C, C)
    scaled = whole * 3.0
    assert scaled.n == 3.0 * whole.n and scaled.mean is whole.mean
    np.testing.assert_array_equal(scaled.C, 3.0 * whole.C)
    empty = Scatter.of(X[:2], np.zeros(2))   # a block of zero weight changes nothing
    assert (whole + empty) is whole and (empty + whole) is whole


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_a_fit_over_blocks_is_the_one_block_fit(cov_type, backend):
    contract = MixtureContract()
    contract.cov_type, contract.prior_type = cov_type, "dirichlet_process"
    model = contract.make_model(backend, 1)
    g0 = contract.init_global(model)
    one = run_cavi(model, [join(contract.data())], g0, max_iter=15)
    three = run_cavi(model, contract.data(), g0, max_iter=15)
    np.testing.assert_allclose(_flat(three.g), _flat(one.g), rtol=1e-9)
    np.testing.assert_allclose(three.elbo_history, one.elbo_history, rtol=1e-12)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_the_estimators_fit_is_run_cavi_on_the_model(cov_type, prior_type):
    """Same initial state, same passes: bit-identical parameters and ELBO history."""
    X, w = weighted_blobs()
    est = BayesianGaussianMixture(n_components=K, covariance_type=cov_type, max_iter=12,
                                  tol=0.0, weight_concentration_prior_type=prior_type,
                                  init_params="random", random_state=0, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, sample_weight=w)
    priors = est._resolve_priors(X, w, True)
    model = est._model(priors, X.dtype)
    block = Block(X, w)
    g0 = model.init_from_resp(block, est._initial_resp(X, w, True, np.random.RandomState(0)))
    res = run_cavi(model, [block], g0, max_iter=12)
    assert res.n_iter == est.n_iter_ == 12
    assert res.elbo_history == est.elbo_history_
    for key in ("beta", "m", "cov", "pc"):
        np.testing.assert_array_equal(res.g[key], est._params[key])
    assert [model.lower_bound(res.g, model.local_step(block, res.g_prev, None)[0])] == \
        est.lower_bounds_[-1:]


def test_pruning_keeps_the_largest_component_at_least():
    X, w = weighted_blobs()
    contract = MixtureContract()
    contract.cov_type, contract.prior_type = "diag", "dirichlet_process"
    model = contract.make_model("numpy", 1)
    g = contract.init_global(model)
    stats, _ = model.local_step(Block(X, w), g, None)
    nk = stats["nk"]
    keep_all = Pruning(model, 0.0, np.arange(K))
    assert keep_all(g, stats) == (g, False)
    middle = np.sort(nk)[1]
    some = Pruning(model, middle, np.arange(K))
    g2, changed = some(g, stats)
    assert changed and list(some.active) == list(np.flatnonzero(nk >= middle))
    assert g2["m"].shape == (K - 1, 3)
    none = Pruning(model, np.inf, np.arange(K))
    g3, changed = none(g, stats)
    assert changed and list(none.active) == [int(np.argmax(nk))] and g3["m"].shape == (1, 3)
