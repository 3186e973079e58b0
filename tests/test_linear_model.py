"""VBLinearRegression and VBLogisticRegression against independent ground truth.

- Linear, weight precision held fixed: q(w, tau) must be the exact
  Normal-Gamma conjugate posterior (closed form, 1e-10) and the ELBO the exact
  log evidence (a multivariate Student-t density from scipy.stats).
- Linear, everything learned: the closed-form ELBO against a Monte Carlo
  estimate of E_q[log p(y, w, tau, lambda) - log q] written with
  scipy.stats densities (tolerance: 5 Monte Carlo standard errors).
- Logistic: the posterior mean against the exact posterior by numerical
  integration on a 2-D grid (one weight and the intercept). The
  Jaakkola-Jordan q(w) is a Gaussian fitted to a lower bound, not the exact
  posterior, so agreement is only approximate: on simulated data sets like
  the test's (n = 20, 50, 200, 1000) the mean error was at most 0.10
  exact-posterior standard deviations and shrank with n (0.04 at n = 1000);
  the tolerance is 0.2 sd. The ELBO must lie below the exact log evidence (it
  is a lower bound) and within 1 nat of it (observed gap <= 0.53).
- The ELBO never decreases (every CAVI loop); scikit-learn's estimator checks;
  bad inputs each with its error message.
- Integer sample weights against repeated rows. A fit that fails keeps the
  previous model: tests/test_failed_fit_regression.py.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import log_expit, logsumexp
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import BayesianRidge, LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import N_JOBS, assert_state_equal, fitted_state, require_backend, require_threads
from fastcavi.linear_model.regression_reference import row_chunks
from fastcavi.linear_model import VBLinearRegression, VBLogisticRegression

BACKENDS = ("numpy", "numba", "cython")

# Every scikit-learn estimator check passes. The hardest, _check_sample_weight_equivalence, fits X = rand(15, 30) with 9 rows of
# positive weight against the rows repeated: both take the dual (Woodbury) path and
# interpolate (alpha_ ~ 9e6, lambda_ ~ 3.6e-7). It passes because the dual path forms
# m = A^-1 B^T K^-1 z and y^T y - m^T X^T y = z^T K^-1 z directly, free of the
# cancellation of u - A^-1 B^T K^-1 B u (|u| ~ 1e7 for |m| ~ 0.6) that lost ~7 digits.


@parametrize_with_checks([VBLinearRegression(), VBLogisticRegression()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _assert_close(actual, desired, rtol, name):
    """Normwise relative agreement: every entry within rtol * max|desired|."""
    desired = np.asarray(desired, dtype=np.float64)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * np.max(np.abs(desired)),
                               err_msg=name)


# Tolerances measured on 100 data sets like this one (n = 40, d = 5, noise sd 0.5,
# weights 0..3), worst normwise relative difference over every attribute and
# over ard, fit_intercept, dense and sparse: 8.3e-14 on the primal (Cholesky)
# path, 3.5e-11 on the dual (Woodbury) path, whose m = u - A^-1 B^T K^-1 B u
# cancels terms ~n / lambda times larger than m (see _SW_REASON).
@pytest.mark.parametrize("path, rtol", [
    ("numpy", 5e-13), ("numba", 5e-13), ("cython", 5e-13), ("sparse", 5e-13),
    ("dual", 2e-10), ("sparse-dual", 2e-10),
])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("ard", [False, True])
def test_integer_weights_are_repeated_rows(ard, fit_intercept, path, rtol):
    """Integer weight k is the row repeated k times (0: the row dropped).

    The Gram kernels (dense primal, per backend), scipy.sparse and the
    Woodbury path each see different rows in the two fits, in a different
    order (the weighted rows are shuffled, as in scikit-learn's check), so
    agreement is to rounding, not bitwise.
    """
    kw = dict(ard=ard, fit_intercept=fit_intercept)
    if path in BACKENDS:
        if path != "numpy":
            require_backend(path, "regression")
        kw.update(backend=path, solver="primal")
    else:
        kw.update(solver="dual" if path.endswith("dual") else "primal")
    convert = sp.csr_matrix if path.startswith("sparse") else np.asarray
    rng = np.random.default_rng(3)
    n, d = 40, 5
    X = rng.standard_normal((n, d)) + rng.uniform(-1, 1, d)
    y = X @ (rng.uniform(0.5, 1.5, d) * rng.choice([-1.0, 1.0], d)) + 0.7 \
        + 0.5 * rng.standard_normal(n)
    w = rng.integers(0, 4, n)
    assert 0 in w and w.max() > 1
    perm = rng.permutation(n)
    weighted = VBLinearRegression(**kw).fit(convert(X[perm]), y[perm],
                                            sample_weight=w[perm].astype(np.float64))
    repeated = VBLinearRegression(**kw).fit(convert(np.repeat(X, w, axis=0)), np.repeat(y, w))
    assert weighted.n_iter_ == repeated.n_iter_ and weighted.converged_
    for name in ("coef_", "intercept_", "sigma_", "alpha_", "lambda_", "elbo_", "a_n_", "b_n_",
                 "lambda_rate_", "elbo_history_"):
        _assert_close(getattr(weighted, name), getattr(repeated, name), rtol, name)
    assert weighted.lambda_shape_ == repeated.lambda_shape_
    mean_w, std_w = weighted.predict(convert(X), return_std=True)
    mean_r, std_r = repeated.predict(convert(X), return_std=True)
    _assert_close(mean_w, mean_r, rtol, "predicted mean")
    _assert_close(std_w, std_r, rtol, "predicted std")


def linear_data(n=60, d=4, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + rng.standard_normal(d)
    w = rng.standard_normal(d)
    y = X @ w + 0.7 + noise * rng.standard_normal(n)
    return X, y, rng


def monotone(history, rel=1e-12):
    h = np.asarray(history)
    return np.all(np.diff(h) >= -rel * np.abs(h[1:]) - 1e-12)


# --------------------------------------------------------------------------- linear
@pytest.mark.parametrize("solver", ["primal", "dual"])
@pytest.mark.parametrize("sparse", [False, True])
def test_fixed_precision_is_exact_conjugate_posterior(solver, sparse):
    X, y, rng = linear_data(n=25, d=6)
    sw = rng.uniform(0.5, 2.0, X.shape[0])
    lam, a0, b0 = 0.7, 2.0, 3.0
    reg = VBLinearRegression(fit_lambda=False, lambda_init=lam, alpha_1=a0, alpha_2=b0,
                             fit_intercept=False, solver=solver)
    reg.fit(sp.csr_matrix(X) if sparse else X, y, sample_weight=sw)
    # Normal-Gamma conjugate update (Bishop PRML ex. 3.12 / Drugowitsch eqs. 9-12)
    P = lam * np.eye(6) + X.T @ (sw[:, None] * X)
    m = np.linalg.solve(P, X.T @ (sw * y))
    an = a0 + sw.sum() / 2
    bn = b0 + 0.5 * (sw @ y ** 2 - m @ P @ m)
    np.testing.assert_allclose(reg.coef_, m, rtol=1e-10, atol=1e-12)
    assert reg.a_n_ == pytest.approx(an, rel=1e-12)
    assert reg.b_n_ == pytest.approx(bn, rel=1e-10)
    np.testing.assert_allclose(reg.sigma_, np.linalg.inv(P) * bn / (an - 1), rtol=1e-10,
                               atol=1e-14)
    assert reg.intercept_ == 0.0


def test_fixed_precision_elbo_is_log_evidence():
    X, y, _ = linear_data(n=30, d=3, seed=4)
    lam, a0, b0 = 1.3, 1.5, 2.5
    reg = VBLinearRegression(fit_lambda=False, lambda_init=lam, alpha_1=a0, alpha_2=b0,
                             fit_intercept=False).fit(X, y)
    # y ~ St(0, (b0/a0)(I + X X^T / lam), 2 a0): marginal of the Normal-Gamma model
    shape = (b0 / a0) * (np.eye(30) + X @ X.T / lam)
    log_evidence = stats.multivariate_t(loc=np.zeros(30), shape=shape, df=2 * a0).logpdf(y)
    assert reg.elbo_ == pytest.approx(log_evidence, rel=1e-10)


def test_fixed_precision_with_intercept_matches_centred_problem():
    X, y, _ = linear_data(n=40, d=3, seed=5)
    reg = VBLinearRegression(fit_lambda=False, lambda_init=2.0, alpha_1=1.0,
                             alpha_2=1.0).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    P = 2.0 * np.eye(3) + Xc.T @ Xc
    m = np.linalg.solve(P, Xc.T @ yc)
    np.testing.assert_allclose(reg.coef_, m, rtol=1e-10)
    assert reg.intercept_ == pytest.approx(y.mean() - X.mean(0) @ m, rel=1e-10)
    assert reg.a_n_ == pytest.approx(1.0 + (40 - 1) / 2)  # the flat intercept uses one dof


def _mc_elbo(reg, X, y, a0, b0, c0, d0, ard, n_draws=400_000, seed=0):
    """E_q[log p(y, w, tau, lambda) - log q(w, tau) - log q(lambda)] by Monte Carlo."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    an, bn = reg.a_n_, reg.b_n_
    V = reg.sigma_ * (an - 1) / bn
    cn, dn = reg.lambda_shape_, np.broadcast_to(reg.lambda_rate_, (d,)) if ard \
        else reg.lambda_rate_
    tau = rng.gamma(an, 1 / bn, n_draws)
    L = np.linalg.cholesky(V)
    w = reg.coef_ + (rng.standard_normal((n_draws, d)) @ L.T) / np.sqrt(tau)[:, None]
    if ard:
        lam = rng.gamma(cn, 1 / dn, (n_draws, d))
        log_q_lam = stats.gamma.logpdf(lam, cn, scale=1 / dn).sum(1)
        log_p_lam = stats.gamma.logpdf(lam, c0, scale=1 / d0).sum(1)
    else:
        lam1 = rng.gamma(cn, 1 / dn, n_draws)
        lam = np.repeat(lam1[:, None], d, 1)
        log_q_lam = stats.gamma.logpdf(lam1, cn, scale=1 / dn)
        log_p_lam = stats.gamma.logpdf(lam1, c0, scale=1 / d0)
    resid = y[None, :] - w @ X.T
    loglik = (0.5 * len(y) * (np.log(tau) - np.log(2 * np.pi))
              - 0.5 * tau * np.sum(resid ** 2, 1))
    prec = tau[:, None] * lam
    log_p_w = 0.5 * np.sum(np.log(prec / (2 * np.pi)), 1) - 0.5 * np.sum(prec * w ** 2, 1)
    log_p_tau = stats.gamma.logpdf(tau, a0, scale=1 / b0)
    z = np.linalg.solve(L, (w - reg.coef_).T).T * np.sqrt(tau)[:, None]
    log_q_w = (-0.5 * d * np.log(2 * np.pi) + 0.5 * d * np.log(tau)
               - np.sum(np.log(np.diag(L))) - 0.5 * np.sum(z ** 2, 1))
    log_q_tau = stats.gamma.logpdf(tau, an, scale=1 / bn)
    f = loglik + log_p_w + log_p_tau + log_p_lam - log_q_w - log_q_tau - log_q_lam
    return f.mean(), f.std() / np.sqrt(n_draws)


@pytest.mark.parametrize("ard", [False, True])
def test_elbo_against_monte_carlo(ard):
    X, y, _ = linear_data(n=20, d=3, seed=7, noise=1.0)
    a0, b0, c0, d0 = 2.0, 1.5, 3.0, 2.0
    reg = VBLinearRegression(ard=ard, alpha_1=a0, alpha_2=b0, lambda_1=c0, lambda_2=d0,
                             fit_intercept=False).fit(X, y)
    est, se = _mc_elbo(reg, X, y, a0, b0, c0, d0, ard)
    assert abs(reg.elbo_ - est) < 5 * se + 1e-6, (reg.elbo_, est, se)


@pytest.mark.parametrize("ard", [False, True])
@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_linear_elbo_never_decreases(ard, solver):
    X, y, _ = linear_data(n=40, d=8, seed=8, noise=2.0)
    reg = VBLinearRegression(ard=ard, solver=solver, tol=0, max_iter=60).fit(X, y)
    assert len(reg.elbo_history_) > 3
    assert monotone(reg.elbo_history_)
    assert reg.elbo_ == reg.elbo_history_[-1]


def test_primal_dual_sparse_dense_agree():
    X, y, rng = linear_data(n=30, d=10, seed=9)
    X[rng.random(X.shape) < 0.5] = 0.0
    sw = rng.uniform(0, 2, 30)
    kw = dict(ard=True, max_iter=30, tol=0)
    ref = VBLinearRegression(solver="primal", **kw).fit(X, y, sample_weight=sw)
    for Xv, solver in [(X, "dual"), (sp.csr_matrix(X), "primal"), (sp.csc_matrix(X), "dual")]:
        other = VBLinearRegression(solver=solver, **kw).fit(Xv, y, sample_weight=sw)
        np.testing.assert_allclose(other.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
        assert other.elbo_ == pytest.approx(ref.elbo_, rel=1e-8)
        np.testing.assert_allclose(other.predict(Xv, return_std=True)[1],
                                   ref.predict(X, return_std=True)[1], rtol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_backends_agree(backend):
    if backend != "numpy":
        require_backend(backend, "regression")
    X, y, _ = linear_data(n=5000, d=12, seed=10)
    X32 = X.astype(np.float32)
    ref = VBLinearRegression(backend="numpy").fit(X, y)
    a = VBLinearRegression(backend=backend).fit(X, y)
    np.testing.assert_allclose(a.coef_, ref.coef_, rtol=1e-10)
    c = VBLinearRegression(backend=backend).fit(X32, y)
    np.testing.assert_allclose(c.coef_, VBLinearRegression(backend="numpy").fit(
        X32.astype(np.float64), y).coef_, rtol=1e-10)


def assert_threads_are_bit_identical(make, X, y, outputs):
    """Fits of ``make(n_jobs)`` for n_jobs 1, 2 and -1: every attribute in vars()
    and every array of ``outputs(est)`` equal (assert_array_equal, == for scalars)."""
    fits = []
    for n_jobs in N_JOBS:
        est = make(n_jobs).fit(X, y)
        fits.append((n_jobs, fitted_state(est), outputs(est)))
    _, ref_state, ref_outputs = fits[0]
    for n_jobs, state, out in fits[1:]:
        assert_state_equal(ref_state, state, f"n_jobs={n_jobs}: vars()")
        assert_state_equal(ref_outputs, out, f"n_jobs={n_jobs}: outputs")
    return ref_state


@pytest.mark.parametrize("ard", [False, True])
@pytest.mark.parametrize("layout", ["dense", "dense_wide", "sparse"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_threads_are_bit_identical(backend, layout, ard):
    """README: "results are bit-identical for any n_jobs with a given backend".
    Dense, n = 5,000 rows: two of weighted_gram's row chunks (and of
    predictive_moments'); d = 150 (and n = 150 < d = 200, the Woodbury path, whose
    n x n system is 150 x 150): matrices large enough for OpenBLAS to thread its
    Cholesky and products, whose rounding depends on the thread count (run on
    n_jobs BLAS threads, the CAVI iterations gave a different coef_ at n_jobs=2 in
    both dense layouts)."""
    require_threads(backend, "regression")
    if layout == "dense_wide":  # n < d: the Woodbury path
        X, y, _ = linear_data(n=150, d=200, seed=13)
    else:
        X, y, _ = linear_data(n=5000, d=150, seed=13)
        assert len(row_chunks(5000, 151)) - 1 == 2
    if layout == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    state = assert_threads_are_bit_identical(
        lambda n_jobs: VBLinearRegression(backend=backend, n_jobs=n_jobs, ard=ard, max_iter=10),
        X, y, lambda est: list(est.predict(X[:2000], return_std=True)))
    assert state["n_iter_"] > 2 and state["backend_"] == backend


def test_agrees_with_bayesian_ridge_when_data_dominate():
    X, y, _ = linear_data(n=2000, d=5, seed=11)
    ours = VBLinearRegression().fit(X, y)
    br = BayesianRidge(tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, br.coef_, rtol=1e-3)
    assert ours.intercept_ == pytest.approx(br.intercept_, rel=1e-3)
    assert ours.alpha_ == pytest.approx(br.alpha_, rel=5e-3)


def test_predict_std_is_student_t_predictive():
    X, y, _ = linear_data(n=50, d=3, seed=12)
    reg = VBLinearRegression().fit(X, y)
    Xn = X[:5] + 1.0
    mean, std = reg.predict(Xn, return_std=True)
    an, bn = reg.a_n_, reg.b_n_
    V = reg.sigma_ * (an - 1) / bn
    xc = Xn - X.mean(0)
    scale2 = bn / an * (1 + 1 / 50 + np.einsum("ij,jk,ik->i", xc, V, xc))
    t_std = stats.t(df=2 * an, scale=np.sqrt(scale2)).std()
    np.testing.assert_allclose(std, t_std, rtol=1e-10)
    np.testing.assert_allclose(mean, Xn @ reg.coef_ + reg.intercept_, rtol=1e-12)


def test_ard_prunes_irrelevant_features():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((400, 6))
    y = 2 * X[:, 0] - X[:, 1] + 0.1 * rng.standard_normal(400)
    reg = VBLinearRegression(ard=True).fit(X, y)
    assert np.all(reg.lambda_[2:] > 100 * reg.lambda_[:2].max())
    assert np.all(np.abs(reg.coef_[2:]) < 0.02)


@pytest.mark.parametrize("make, match", [
    (lambda X, y: (np.where(X > 2, np.nan, X), y), "Input X contains NaN"),
    (lambda X, y: (X, np.where(y > 2, np.nan, y)), "Input y contains NaN"),
    (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    (lambda X, y: (X[:, 0], y), "Expected 2D array"),
    (lambda X, y: (X[:, :0], y), "0 feature\\(s\\)"),
    (lambda X, y: (X, np.full_like(y, 3.0)), "y is constant"),
    (lambda X, y: (X[:1], y[:1]), "at least 2 samples"),
])
def test_linear_bad_inputs(make, match):
    X, y, _ = linear_data()
    X, y = make(X, y)
    with pytest.raises(ValueError, match=match):
        VBLinearRegression().fit(X, y)


def test_linear_bad_parameters_and_weights():
    X, y, _ = linear_data()
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        VBLinearRegression().fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])
    with pytest.raises(ValueError, match="non-zero"):
        VBLinearRegression().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="lambda_init must be a positive float or an array"):
        VBLinearRegression(ard=True, lambda_init=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="'alpha_1' parameter"):
        VBLinearRegression(alpha_1=-1.0).fit(X, y)
    reg = VBLinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :2])


# --------------------------------------------------------------------------- logistic
def _exact_posterior(x, y, lam, beta0, center, scale, grid=401, width=8.0):
    """Posterior mean/sd of (w, b) and log evidence on a grid (one feature + intercept)."""
    axes = [np.linspace(c - width * s, c + width * s, grid) for c, s in zip(center, scale)]
    W, B = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    t = 2 * y - 1
    logp = (log_expit(t[None, :] * (np.outer(W, x) + B[:, None])).sum(1)
            + stats.norm.logpdf(W, scale=lam ** -0.5) + stats.norm.logpdf(B, scale=beta0 ** -0.5))
    cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
    post = np.exp(logp - logsumexp(logp))
    mean = np.array([post @ W, post @ B])
    sd = np.sqrt(np.array([post @ (W - mean[0]) ** 2, post @ (B - mean[1]) ** 2]))
    return mean, sd, logsumexp(logp) + np.log(cell)


@pytest.mark.parametrize("n", [30, 300])
def test_logistic_mean_against_numerical_integration(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 0.5)))).astype(int)
    clf = VBLogisticRegression(fit_lambda=False, lambda_init=1.0, intercept_precision=1.0,
                               tol=1e-12, max_iter=500).fit(x[:, None], y)
    mu = np.r_[clf.coef_[0], clf.intercept_]
    sd_vb = np.sqrt(np.diag(clf.sigma_[0]))
    mean, sd, log_z = _exact_posterior(x, y, 1.0, 1.0, mu, 3 * sd_vb)
    assert np.all(np.abs(mu - mean) < 0.2 * sd), (mu, mean, sd)
    assert clf.elbo_ <= log_z + 1e-8  # a lower bound on the exact log evidence
    assert log_z - clf.elbo_ < 1.0
    assert np.all(sd_vb <= sd * 1.01)  # JJ underestimates the posterior spread


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("ard", [False, True])
def test_logistic_binary_elbo_never_decreases(ard):
    X, y = _scaled(load_breast_cancer)
    clf = VBLogisticRegression(ard=ard, max_iter=60, tol=0).fit(X, y)
    h = clf.elbo_history_[0]
    assert len(h) > 10 and monotone(h)
    assert clf.n_iter_[0] == len(h) - 1


def test_verbose_prints_one_line_per_iteration(capsys):
    X, y, _ = linear_data()
    VBLinearRegression(verbose=1, max_iter=3, tol=0).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("iteration")]
    assert len(lines) == 3 and "elbo" in lines[-1]
    VBLogisticRegression(verbose=1, max_iter=4, tol=0).fit(X, y > y.mean())
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("iteration")]
    assert len(lines) == 4 and "of max_iter: 4" in lines[-1]


@pytest.mark.parametrize("ard", [False, True])
def test_logistic_elbo_never_decreases(ard):
    X, y = _scaled(load_wine)
    clf = VBLogisticRegression(ard=ard, max_iter=40, tol=0).fit(X, y)
    assert len(clf.elbo_history_) == 3
    for h in clf.elbo_history_:
        assert len(h) > 5 and monotone(h)
    assert clf.elbo_ == pytest.approx(sum(h[-1] for h in clf.elbo_history_))


def test_logistic_accuracy_like_sklearn():
    X, y = _scaled(load_breast_cancer)
    ours = VBLogisticRegression().fit(X, y)
    skl = LogisticRegression(max_iter=1000).fit(X, y)
    assert ours.score(X, y) >= skl.score(X, y) - 0.02
    assert ours.coef_.shape == (1, 30) and ours.classes_.tolist() == [0, 1]


def test_logistic_probit_predictive():
    X, y = _scaled(load_wine)
    clf = VBLogisticRegression(max_iter=30).fit(X, y)
    Xa = np.hstack([X, np.ones((len(X), 1))])
    p = []
    for k in range(3):
        mu = np.r_[clf.coef_[k], clf.intercept_[k]]
        var = np.einsum("ij,jk,ik->i", Xa, clf.sigma_[k], Xa)
        p.append(1 / (1 + np.exp(-(Xa @ mu) / np.sqrt(1 + np.pi * var / 8))))
    p = np.array(p).T
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(1, keepdims=True), rtol=1e-8)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(p, 1)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_logistic_backends_agree(backend):
    if backend != "numpy":
        require_backend(backend, "regression")
    X, y = _scaled(load_breast_cancer)
    kw = dict(max_iter=20, tol=0)
    ref = VBLogisticRegression(backend="numpy", **kw).fit(X, y)
    a = VBLogisticRegression(backend=backend, **kw).fit(X, y)
    np.testing.assert_allclose(a.coef_, ref.coef_, rtol=1e-8)
    c = VBLogisticRegression(backend=backend, **kw).fit(X.astype(np.float32), y)
    d = VBLogisticRegression(backend="numpy", **kw).fit(X.astype(np.float32).astype(float), y)
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-8)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_logistic_threads_are_bit_identical(backend, n_classes):
    """README: "results are bit-identical for any n_jobs with a given backend".
    9,000 rows of 30 features are three of jj_step's row chunks (the Gram and
    the ELBO term are summed per chunk, then in chunk order); binary and
    one-vs-rest, every attribute and predict_proba / decision_function."""
    require_threads(backend, "regression")
    rng = np.random.default_rng(14)
    X = rng.standard_normal((9000, 30))
    score = X[:, :3] @ np.array([1.5, -1.0, 0.5])
    y = np.digitize(score + rng.standard_normal(9000), [-0.5, 0.5][: n_classes - 1])
    assert len(row_chunks(9000, 31, with_partials=True)) - 1 == 3
    state = assert_threads_are_bit_identical(
        lambda n_jobs: VBLogisticRegression(backend=backend, n_jobs=n_jobs, max_iter=5, tol=0),
        X, y, lambda est: [est.predict_proba(X), est.decision_function(X)])
    assert len(state["classes_"]) == n_classes and state["backend_"] == backend


@pytest.mark.parametrize("make, exc, match", [
    (lambda X, y: (X, np.zeros_like(y)), ValueError, "only one class"),
    (lambda X, y: (np.where(X > 2, np.nan, X), y), ValueError, "Input X contains NaN"),
    (lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers of samples"),
    (lambda X, y: (X[:, :0], y), ValueError, "0 feature\\(s\\)"),
    (lambda X, y: (X, y + 0.5), ValueError, "Unknown label type"),
    (lambda X, y: (sp.csr_matrix(X), y), TypeError, "Sparse data was passed"),
])
def test_logistic_bad_inputs(make, exc, match):
    X, y = _scaled(load_breast_cancer)
    X, y = make(X[:100], y[:100])
    with pytest.raises(exc, match=match):
        VBLogisticRegression().fit(X, y)
