"""SpikeSlabRegression against independent ground truth.

- Exact posterior by enumeration of all 2^p models (p <= 10), each model's
  marginal likelihood in closed form with beta (and the intercept) integrated
  out. Tolerance on the inclusion probabilities: for any q, and any event A,
  |q(A) - p(A | y)| <= TV(q, p) <= sqrt(KL(q || p) / 2) (Pinsker), and
  KL(q || p) = log p(y) - ELBO(q) exactly. Both sides are computed here
  (log p(y) by enumeration, the ELBO by the estimator), so the test asserts
  |pip_ - exact PIP| <= sqrt((log p(y) - elbo_) / 2) + 1e-9: a bound that
  holds whatever the design, and is tight where mean field is accurate. On an
  orthogonal design the posterior factorises over coordinates, mean field is
  exact, and the gap (hence the tolerance) is ~0; on a near-orthogonal
  random design it is ~1e-3 nats (tolerance ~0.02, observed errors ~1e-3).
- A Gaussian "all in" limit (prior log-odds 40): mean field over Gaussian
  coordinates has the exact posterior mean, which is ridge regression:
  agreement with :class:`sklearn.linear_model.Ridge` (with intercept and
  sample weights).
- The ELBO never decreases; scikit-learn's estimator checks; bad inputs. A fit
  that fails keeps the previous model: tests/test_failed_fit_regression.py.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastcavi.linear_model import spikeslab_numba
from fastcavi.linear_model.spikeslab import SpikeSlabRegression, spikeslab_elbo

from conftest import (FAST_BACKENDS, N_JOBS, assert_state_equal, fitted_state, require_backend,
                      require_threads)

BACKENDS = ("numpy",) + FAST_BACKENDS


_EXACT_CACHE = {}


def exact_posterior(X, y, sigma2, sa, logodds, intercept):
    """Exact PIPs and log p(y) by enumerating the 2^p models (no mean field).

    y | gamma ~ N(1 b0, C) with C = sigma2 (I + sa X_S X_S^T); with
    ``intercept`` b0 has a flat prior and is integrated out (generalised
    least squares on the uncentred X, independent of the estimator's
    centring). C^-1 and log|C| through the Woodbury identity and the
    matrix determinant lemma, so each model costs O(n k^2).
    """
    key = (X.tobytes(), y.tobytes(), sigma2, sa, logodds, intercept)
    if key in _EXACT_CACHE:
        return _EXACT_CACHE[key]
    n, p = X.shape
    log_post = np.empty(2**p)
    masks = (np.arange(2**p)[:, None] >> np.arange(p)) & 1
    U = np.c_[y, np.ones(n)]
    for m in range(2**p):
        Xs = X[:, np.flatnonzero(masks[m])]
        A = np.eye(Xs.shape[1]) + sa * Xs.T @ Xs
        logdet = n * np.log(sigma2) + np.linalg.slogdet(A)[1]
        CiU = (U - sa * Xs @ np.linalg.solve(A, Xs.T @ U)) / sigma2  # C^-1 [y, 1]
        quad = y @ CiU[:, 0]
        lp = -0.5 * n * np.log(2 * np.pi) - 0.5 * logdet
        if intercept:
            a = U[:, 1] @ CiU[:, 1]
            quad -= (U[:, 1] @ CiU[:, 0]) ** 2 / a
            lp += 0.5 * np.log(2 * np.pi) - 0.5 * np.log(a)
        lp -= 0.5 * quad
        lp += Xs.shape[1] * logodds - p * np.logaddexp(0.0, logodds)
        log_post[m] = lp
    log_z = logsumexp(log_post)
    _EXACT_CACHE[key] = (np.exp(log_post - log_z) @ masks, log_z)
    return _EXACT_CACHE[key]


def design(kind, n, p, rng, shift=True):
    """Orthogonal columns (after centring when ``shift``), or a near-orthogonal Gaussian design."""
    shifts = rng.uniform(-3, 3, p) if shift else np.zeros(p)
    if kind == "orthogonal":
        Z = rng.standard_normal((n, p))
        if shift:  # centred orthogonal columns, then shifted: mean field exact with intercept
            Z -= Z.mean(axis=0)
        Q, _ = np.linalg.qr(Z)
        return Q * rng.uniform(2.0, 6.0, p) + shifts
    return rng.standard_normal((n, p)) + shifts / 3  # near-orthogonal


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,n,p", [("orthogonal", 60, 10), ("near", 400, 8)])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_pips_match_exact_enumeration(backend, kind, n, p, intercept, sparse):
    """PIPs within the Pinsker bound of the exact posterior; ELBO <= log p(y).

    Tolerance (module docstring): sqrt(KL / 2) with KL = log p(y) - elbo_,
    which is ~1e-7 on the orthogonal design (mean field exact up to the
    convergence tolerance) and <~0.03 on the near-orthogonal one; a fixed
    floor of 1e-9 absorbs rounding in the enumeration.
    """
    if backend != "numpy":
        require_backend(backend, "spikeslab")
    rng = np.random.default_rng(n * p + intercept)
    X = design(kind, n, p, rng, shift=intercept)
    beta = np.zeros(p)
    beta[:3] = [0.6, -0.4, 0.25]
    y = X @ beta + rng.standard_normal(n) + (2.0 if intercept else 0.0)
    sigma2, sa, lo = 1.0, 0.5, -1.0
    exact_pip, log_z = exact_posterior(X, y, sigma2, sa, lo, intercept)
    Xfit = sp.csr_matrix(X) if sparse else X
    est = SpikeSlabRegression(noise_variance=sigma2, slab_variance=sa, prior_logodds=lo,
                              fit_intercept=intercept, tol=1e-10, backend=backend,
                              random_state=0).fit(Xfit, y)
    gap = log_z - est.elbo_
    assert gap >= -1e-8 * abs(log_z)  # the ELBO is a lower bound
    bound = np.sqrt(max(gap, 0.0) / 2.0) + 1e-9
    assert np.max(np.abs(est.pip_ - exact_pip)) <= bound
    if kind == "orthogonal":
        assert gap < 1e-7 * abs(log_z)  # mean field is exact here
        assert np.max(np.abs(est.pip_ - exact_pip)) < 1e-6
    assert 0.05 < exact_pip.max() and exact_pip.min() < 0.95  # a non-trivial posterior


def test_exact_check_can_fail():
    """The Pinsker tolerance is not vacuous: a wrong prior log-odds breaks it."""
    rng = np.random.default_rng(3)
    X = design("near", 400, 8, rng)
    y = X[:, :2] @ [0.3, -0.2] + rng.standard_normal(400)
    exact_pip, log_z = exact_posterior(X, y, 1.0, 0.5, -1.0, False)
    est = SpikeSlabRegression(noise_variance=1.0, slab_variance=0.5, prior_logodds=1.0,
                              fit_intercept=False, random_state=0).fit(X, y)
    est_ok = SpikeSlabRegression(noise_variance=1.0, slab_variance=0.5, prior_logodds=-1.0,
                                 fit_intercept=False, random_state=0).fit(X, y)
    bound = np.sqrt(max(log_z - est_ok.elbo_, 0.0) / 2.0) + 1e-9
    assert np.max(np.abs(est.pip_ - exact_pip)) > bound


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("estimate", [False, True])
def test_elbo_never_decreases(backend, sparse, estimate):
    if backend != "numpy":
        require_backend(backend, "spikeslab")
    rng = np.random.default_rng(7)
    n, p = 150, 40
    base = rng.standard_normal((n, 5))
    X = base @ rng.standard_normal((5, p)) + 0.5 * rng.standard_normal((n, p))  # correlated
    if sparse:
        X = sp.csc_matrix(X * (rng.random((n, p)) < 0.5))
    y = np.asarray(X @ np.r_[1.0, -1.0, np.zeros(p - 2)]).ravel() + rng.standard_normal(n)
    params = {} if estimate else dict(noise_variance=1.3, slab_variance=0.7)
    est = SpikeSlabRegression(prior_logodds=-2.0, tol=0.0, max_iter=60, backend=backend,
                              random_state=1, **params)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    h = np.asarray(est.elbo_history_)
    assert len(h) == est.n_iter_ == 60
    scale = 1e-12 * np.abs(h).max()
    assert np.all(np.diff(h) >= -scale)
    assert h[-1] > h[0]  # it did move
    np.testing.assert_allclose(est.elbo_, h[-1])


def test_elbo_matches_its_definition():
    """elbo_ recomputed from the fitted q with spikeslab_elbo and the raw data."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 6))
    y = X[:, 0] + rng.standard_normal(80)
    est = SpikeSlabRegression(noise_variance=0.9, slab_variance=2.0, prior_logodds=-1.5,
                              fit_intercept=False, random_state=0).fit(X, y)
    a, m, s = est.grid_alpha_[0], est.grid_mu_[0], est.grid_s_[0]
    resid2 = np.sum((y - X @ (a * m)) ** 2)
    want = spikeslab_elbo(resid2, (X**2).sum(0), a, m, s, 0.9, 2.0, -1.5, 80)
    np.testing.assert_allclose(est.elbo_, want, rtol=1e-12)


@pytest.mark.parametrize("which", ["noise", "slab", "slab_ml"])
def test_hyperparameter_updates_are_maximisers(which):
    """The last hyperparameter update leaves the objective at its maximum in that coordinate."""
    from fastcavi.linear_model.spikeslab_model import log_scaled_inv_chi2 as _log_scaled_inv_chi2

    rng = np.random.default_rng(12)
    X = rng.standard_normal((100, 12))
    y = X[:, :2] @ [0.8, -0.6] + rng.standard_normal(100)
    kw = dict(prior_logodds=-1.5, fit_intercept=False, random_state=0, max_iter=7, tol=0.0)
    if which == "noise":
        kw["slab_variance"] = 0.8
    else:
        kw["noise_variance"] = 1.1
        kw["slab_prior_dof"] = 10.0 if which == "slab" else 0.0
    with pytest.warns(ConvergenceWarning):
        est = SpikeSlabRegression(**kw).fit(X, y)
    a, m, s = est.grid_alpha_[0], est.grid_mu_[0], est.grid_s_[0]
    resid2 = np.sum((y - X @ (a * m)) ** 2)
    d = (X**2).sum(0)

    def objective(sigma2, sa):
        value = spikeslab_elbo(resid2, d, a, m, s, sigma2, sa, -1.5, 100)
        if which == "slab":
            value += _log_scaled_inv_chi2(sa, 10.0, 1.0)
        return value

    sigma2, sa = est.noise_variance_, est.slab_variance_
    best = objective(sigma2, sa)
    np.testing.assert_allclose(best, est.elbo_, rtol=1e-12)
    for f in (0.99, 0.999, 1.001, 1.01):
        moved = objective(sigma2 * f, sa) if which == "noise" else objective(sigma2, sa * f)
        assert moved < best


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sparse", [False, True])
def test_gaussian_limit_is_sklearn_ridge(backend, sparse):
    """With every gamma_j = 1 the mean-field posterior mean is the ridge solution.

    The CAVI fixed point of mu solves (X^T W X + I / sa) mu = X^T W y (Gauss-Seidel
    on the ridge system), so it must equal Ridge(alpha=1/sa) with the same
    centring and sample weights; prior log-odds 40 gives 1 - alpha_j < 1e-12.
    """
    if backend != "numpy":
        require_backend(backend, "spikeslab")
    rng = np.random.default_rng(4)
    n, p = 120, 15
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    y = X @ rng.standard_normal(p) + 3.0 + rng.standard_normal(n)
    w = rng.integers(0, 4, n).astype(float)
    sa = 0.25
    Xfit = sp.csc_matrix(X) if sparse else X
    est = SpikeSlabRegression(noise_variance=1.0, slab_variance=sa, prior_logodds=40.0,
                              tol=1e-12, max_iter=5000, backend=backend, random_state=0)
    est.fit(Xfit, y, sample_weight=w)
    ridge = Ridge(alpha=1.0 / sa).fit(X, y, sample_weight=w)
    assert np.all(est.pip_ > 1 - 1e-12)
    np.testing.assert_allclose(est.coef_, ridge.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(est.intercept_, ridge.intercept_, rtol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
def test_integer_sample_weight_is_row_repetition(sparse):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 7))
    y = X[:, 1] - X[:, 2] + rng.standard_normal(60)
    w = rng.integers(0, 4, 60)
    Xrep, yrep = np.repeat(X, w, axis=0), np.repeat(y, w)
    conv = (lambda A: sp.csr_matrix(A)) if sparse else (lambda A: A)
    kw = dict(prior_logodds=[-2.0, -1.0], tol=1e-10, random_state=0)
    a = SpikeSlabRegression(**kw).fit(conv(X), y, sample_weight=w)
    b = SpikeSlabRegression(**kw).fit(conv(Xrep), yrep)
    for attr in ("coef_", "pip_", "grid_elbo_", "grid_noise_variance_", "grid_slab_variance_"):
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-7)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_dense_sparse_float32_agree(backend):
    require_backend(backend, "spikeslab")
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 25)) * (rng.random((300, 25)) < 0.4) + 0.5
    y = X[:, :3] @ [1.0, -0.5, 0.8] + 0.3 * rng.standard_normal(300)
    kw = dict(prior_logodds=-2.0, tol=1e-9, backend=backend, random_state=0)
    dense = SpikeSlabRegression(**kw).fit(X, y)
    for Xo, rtol in ((sp.csr_matrix(X), 1e-8), (sp.csc_matrix(X), 1e-8),
                     (X.astype(np.float32), 1e-4), (sp.csc_matrix(X.astype(np.float32)), 1e-4)):
        other = SpikeSlabRegression(**kw).fit(Xo, y)
        np.testing.assert_allclose(other.coef_, dense.coef_, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(other.pip_, dense.pip_, atol=rtol)
        np.testing.assert_allclose(other.elbo_, dense.elbo_, rtol=rtol)
    np.testing.assert_allclose(dense.predict(X), X @ dense.coef_ + dense.intercept_)


def test_grid_weights_and_averages():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 30))
    y = X[:, :2] @ [0.7, -0.5] + rng.standard_normal(200)
    prior = np.array([1.0, 2.0, 3.0, 0.5, 0.5, 1.0])
    est = SpikeSlabRegression(noise_variance=[0.8, 1.2], prior_logodds=[-3.0, -2.0, -1.0],
                              grid_prior=prior, random_state=0).fit(X, y)
    assert est.grid_elbo_.shape == (6,)
    np.testing.assert_array_equal(est.grid_noise_variance_, np.repeat([0.8, 1.2], 3))
    np.testing.assert_array_equal(est.grid_prior_logodds_, np.tile([-3.0, -2.0, -1.0], 2))
    logw = est.grid_elbo_ + np.log(prior / prior.sum())
    np.testing.assert_allclose(est.grid_weights_, np.exp(logw - logsumexp(logw)), rtol=1e-12)
    np.testing.assert_allclose(est.pip_, est.grid_weights_ @ est.grid_alpha_)
    np.testing.assert_allclose(est.coef_, est.grid_weights_ @ (est.grid_alpha_ * est.grid_mu_))
    np.testing.assert_allclose(est.elbo_, logsumexp(logw))
    for h in est.grid_elbo_history_:  # every grid point's CAVI is monotone
        assert np.all(np.diff(h) >= -1e-12 * np.abs(h).max())
    np.testing.assert_array_equal(est.elbo_history_,
                                  est.grid_elbo_history_[int(np.argmax(est.grid_weights_))])
    # each grid point is the single-point fit with those hyperparameters
    g = 4
    one = SpikeSlabRegression(noise_variance=1.2, prior_logodds=-2.0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(one.pip_, est.grid_alpha_[g])
    np.testing.assert_allclose(one.elbo_, est.grid_elbo_[g])


@pytest.mark.parametrize("case", ["dense_grid", "sparse_grid", "one_point_large_n",
                                  "one_point_large_n_float32"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_are_bit_identical(backend, case):
    """README: "Results are bit-identical whatever n_jobs". Every attribute in
    vars() (the grid's alpha, mu, s, ELBOs and histories included) and predict
    equal (assert_array_equal, == for scalars) for n_jobs 1, 2, -1 and 3.
    A grid of 10 prior log-odds runs its points on n_jobs threads; one grid point
    with n >= PARALLEL_MIN_ROWS shares each coordinate's 1,024-row chunks among
    the threads instead (the compiled backends' two ways of using n_jobs)."""
    require_threads(backend, "spikeslab")
    rng = np.random.default_rng(9)
    if case.startswith("one_point"):
        assert spikeslab_numba.PARALLEL_MIN_ROWS == 1 << 17
        n, p, kw = (1 << 17) + 1000, 6, dict(prior_logodds=-1.0)  # 130 chunks
    else:
        n, p, kw = 150, 20, {}
    X = rng.standard_normal((n, p))
    y = X[:, 0] - 0.5 * X[:, 2] + rng.standard_normal(n)
    if case == "sparse_grid":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    elif case.endswith("float32"):
        X = X.astype(np.float32)
    fits = []
    for n_jobs in N_JOBS + (3,):
        est = SpikeSlabRegression(backend=backend, n_jobs=n_jobs, random_state=3, **kw).fit(X, y)
        fits.append((n_jobs, fitted_state(est), est.predict(X)))
    _, ref_state, ref_pred = fits[0]
    assert ref_state["backend_"] == backend
    assert len(ref_state["grid_elbo_"]) == (1 if case.startswith("one_point") else 10)
    for n_jobs, state, pred in fits[1:]:
        assert_state_equal(ref_state, state, f"n_jobs={n_jobs}: vars()")
        np.testing.assert_array_equal(pred, ref_pred, err_msg=f"n_jobs={n_jobs}: predict")


def test_recovers_sparse_signal_with_estimated_hyperparameters():
    rng = np.random.default_rng(10)
    n, p = 400, 200
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[[3, 50, 120]] = [1.0, -0.8, 0.6]
    y = X @ beta + 0.5 * rng.standard_normal(n) + 4.0
    est = SpikeSlabRegression(random_state=0).fit(X, y)
    assert set(np.flatnonzero(est.pip_ > 0.5)) == {3, 50, 120}
    np.testing.assert_allclose(est.noise_variance_, 0.25, rtol=0.25)
    np.testing.assert_allclose(est.coef_[[3, 50, 120]], [1.0, -0.8, 0.6], atol=0.1)
    np.testing.assert_allclose(est.intercept_, 4.0, atol=0.1)


@parametrize_with_checks([SpikeSlabRegression(backend=b, random_state=0) for b in FAST_BACKENDS])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


X_OK = np.random.default_rng(0).standard_normal((20, 3))
Y_OK = X_OK[:, 0] + 0.1


@pytest.mark.parametrize(
    "params,X,y,fit_kw,error,match",
    [
        ({}, np.where(np.eye(20, 3) > 0, np.nan, X_OK), Y_OK, {}, ValueError, "NaN"),
        ({}, X_OK, np.r_[Y_OK[:-1], np.inf], {}, ValueError, "infinity"),
        ({}, X_OK, Y_OK[:-2], {}, ValueError, "inconsistent numbers of samples"),
        ({}, X_OK, np.c_[Y_OK, Y_OK], {}, ValueError, "y should be a 1d array"),
        ({}, X_OK[:, 0], Y_OK, {}, ValueError, "Expected 2D array"),
        ({}, X_OK[:, :0], Y_OK, {}, ValueError, "0 feature"),
        ({}, X_OK[:1], Y_OK[:1], {}, ValueError, "1 sample"),
        ({}, X_OK, np.full(20, 3.0), {}, ValueError, "y is constant"),
        ({"fit_intercept": False}, X_OK, np.zeros(20), {}, ValueError, "y is constant"),
        ({"noise_variance": -1.0}, X_OK, Y_OK, {}, ValueError, "noise_variance"),
        ({"slab_variance": [1.0, 0.0]}, X_OK, Y_OK, {}, ValueError, "slab_variance must contain"),
        ({"prior_logodds": [[1.0]]}, X_OK, Y_OK, {}, ValueError, "prior_logodds must be"),
        ({"prior_logodds": [np.nan]}, X_OK, Y_OK, {}, ValueError, "finite"),
        ({"prior_logodds": -1.0, "grid_prior": [1.0, 1.0]}, X_OK, Y_OK, {}, ValueError,
         r"grid_prior must have shape \(n_grid,\)=\(1,\)"),
        ({"max_iter": 0}, X_OK, Y_OK, {}, ValueError, "max_iter"),
        ({"backend": "fortran"}, X_OK, Y_OK, {}, ValueError, "backend"),
        ({}, X_OK, Y_OK, {"sample_weight": np.ones(5)}, ValueError, "sample_weight"),
        ({}, X_OK, Y_OK, {"sample_weight": -np.ones(20)}, ValueError, "Negative values"),
        ({}, X_OK, Y_OK, {"sample_weight": np.full(20, 0.01)}, ValueError, "sum to more than 1"),
        ({}, np.array([["a", "b"]] * 20), Y_OK, {}, ValueError, "convert|numeric"),
    ],
)
def test_bad_input_is_rejected_clearly(params, X, y, fit_kw, error, match):
    with pytest.raises(error, match=match):
        SpikeSlabRegression(**params).fit(X, y, **fit_kw)


def test_predict_checks_features():
    est = SpikeSlabRegression(prior_logodds=-1.0, random_state=0).fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="expecting 3 features"):
        est.predict(X_OK[:, :2])
