"""The Numba and Cython regression kernels against the NumPy reference, and their determinism.

Tolerance: every backend converts each row to float64 before any arithmetic
(float32 input included), and the reference does the same, so both dtypes are
held to 1e-10 relative (observed <= 1e-14; the sums run in another order than
NumPy's BLAS products: per block dsyrk/dtrmm and chunk-ordered partial sums).
"""

import numpy as np
import pytest
from scipy.linalg import solve_triangular

from conftest import FAST_BACKENDS, require_backend
from fastcavi.kernels import get_backend
from fastcavi.linear_model.regression_reference import (KERNELS, block_rows, jj_lambda,
                                                          moment_factor, row_chunks)

REF = get_backend("numpy", "regression")
RTOL = 1e-10

# (n, d): one row; one feature; below one block; several blocks and chunks
SHAPES = [(1, 1), (1, 4), (5, 1), (37, 3), (300, 17), (9000, 6)]


def problem(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + rng.standard_normal(d))
    X = np.ascontiguousarray(X.astype(dtype))
    sw = rng.uniform(0, 3, n)
    sw[rng.random(n) < 0.2] = 0.0  # zero weights are allowed
    center = rng.standard_normal(d)
    t = np.where(rng.random(n) < 0.4, -1.0, 1.0)
    return X, sw, center, t, rng


def posterior(rng, p):
    A = rng.standard_normal((p, p))
    P = A @ A.T + p * np.eye(p)
    R = np.ascontiguousarray(np.linalg.cholesky(P).T)
    mu = rng.standard_normal(p)
    return R, mu


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def test_kernels_tuple_and_signatures():
    assert KERNELS == ("weighted_gram", "predictive_moments", "jj_step")
    for name in FAST_BACKENDS:
        be = require_backend(name, "regression")
        for fn in KERNELS:
            assert callable(getattr(be, fn))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("intercept", [False, True])
def test_weighted_gram(backend, dtype, n, d, intercept):
    be = require_backend(backend, "regression")
    X, sw, center, _, _ = problem(n, d, dtype)
    p = d + intercept
    G_ref = np.full((p, p), np.nan)
    G = np.full((p, p), np.nan)
    REF.weighted_gram(X, sw, center, intercept, G_ref)
    be.weighted_gram(X, sw, center, intercept, G, 2)
    close(G, G_ref)
    np.testing.assert_array_equal(G, G.T)
    # independent check of the reference itself
    Xt = X.astype(float) - center
    if intercept:
        Xt = np.hstack([Xt, np.ones((n, 1))])
    close(G_ref, (Xt * sw[:, None]).T @ Xt)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("intercept", [False, True])
def test_predictive_moments(backend, dtype, n, d, intercept):
    be = require_backend(backend, "regression")
    X, _, center, _, rng = problem(n, d, dtype, seed=1)
    R, mu = posterior(rng, d + intercept)
    out = [np.full(n, np.nan) for _ in range(4)]
    REF.predictive_moments(X, center, intercept, R, mu, out[0], out[1])
    be.predictive_moments(X, center, intercept, R, mu, out[2], out[3], 2)
    close(out[2], out[0])
    close(out[3], out[1])
    # the reference against Sigma computed by inversion
    Sigma = np.linalg.inv(R.T @ R)
    Xt = X.astype(float) - center
    if intercept:
        Xt = np.hstack([Xt, np.ones((n, 1))])
    close(out[1], np.einsum("ij,jk,ik->i", Xt, Sigma, Xt), 1e-9)
    close(out[0], Xt @ mu)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("compute_gram", [True, False])
def test_jj_step(backend, dtype, n, d, intercept, compute_gram):
    be = require_backend(backend, "regression")
    X, sw, _, t, rng = problem(n, d, dtype, seed=2)
    R, mu = posterior(rng, d + intercept)
    p = d + intercept
    xi_ref, xi = np.full(n, np.nan), np.full(n, np.nan)
    G_ref, G = np.full((p, p), np.nan), np.full((p, p), np.nan)
    v_ref = REF.jj_step(X, t, sw, intercept, R, mu, xi_ref, G_ref, compute_gram)
    v = be.jj_step(X, t, sw, intercept, R, mu, xi, G, compute_gram, 2)
    close(xi, xi_ref)
    assert abs(v - v_ref) <= RTOL * max(1.0, abs(v_ref))
    if compute_gram:
        close(G, G_ref)
    else:
        assert np.all(np.isnan(G))  # untouched
    # the reference: xi^2 = x^T (Sigma + mu mu^T) x, and the bound's value
    Sigma = np.linalg.inv(R.T @ R)
    Xt = X.astype(float)
    if intercept:
        Xt = np.hstack([Xt, np.ones((n, 1))])
    A = Sigma + np.outer(mu, mu)
    close(xi_ref ** 2, np.einsum("ij,jk,ik->i", Xt, A, Xt), 1e-9)
    expect = np.sum(sw * (-np.log1p(np.exp(-xi_ref)) - xi_ref / 2 + t * (Xt @ mu) / 2))
    assert abs(v_ref - expect) <= 1e-9 * max(1.0, abs(expect))


@pytest.mark.parametrize("p", [1, 2, 7, 40])
def test_moment_factor(p):
    rng = np.random.default_rng(p)
    R, mu = posterior(rng, p)
    R_junk = R.copy()
    R_junk[np.tril_indices(p, -1)] = np.nan  # only the upper triangle may be read
    F = moment_factor(R_junk, mu)
    assert F.shape == (p + 1, p + 1) and F.flags.c_contiguous
    np.testing.assert_array_equal(np.tril(F, -1), 0.0)
    np.testing.assert_allclose(F[:p, :p] @ R, np.eye(p), atol=1e-14)
    X = rng.standard_normal((50, p))
    Z = np.hstack([X, np.zeros((50, 1))]) @ F
    close(Z[:, :p], solve_triangular(R, X.T, trans="T").T, 1e-13)  # R^-T x
    close(Z[:, p], X @ mu, 1e-14)
    Sigma = np.linalg.inv(R.T @ R)
    close(np.sum(Z * Z, 1), np.einsum("ij,jk,ik->i", X, Sigma + np.outer(mu, mu), X), 1e-12)
    R[p - 1, p - 1] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        moment_factor(R, mu)


def ill_conditioned(rng, p, cond):
    """Upper Cholesky factor of a precision with condition number ``cond``."""
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    P = (Q * np.logspace(0, np.log10(cond), p)) @ Q.T
    return np.ascontiguousarray(np.linalg.cholesky(0.5 * (P + P.T)).T)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cond", [1e6, 1e10])
def test_moments_ill_conditioned(backend, cond):
    """The triangular product with R^-1 is as accurate as the reference's triangular solve.

    Ground truth: R^T z = x~ solved by forward substitution in long double.
    Observed relative errors 1e-15 (reference) and 3e-15 (product with R^-1) at
    cond = 1e10; 1e-12 fails an inverse that loses digits with cond(P).
    """
    be = require_backend(backend, "regression")
    rng = np.random.default_rng(4)
    n, p = 300, 30
    R = ill_conditioned(rng, p, cond)
    X = rng.standard_normal((n, p - 1))
    mu = rng.standard_normal(p)
    Xt = np.hstack([X, np.ones((n, 1))]).astype(np.longdouble)
    Rl = R.astype(np.longdouble)
    Z = np.zeros((n, p), dtype=np.longdouble)
    for j in range(p):
        Z[:, j] = (Xt[:, j] - Z[:, :j] @ Rl[:j, j]) / Rl[j, j]
    exact = np.sum(Z * Z, 1).astype(float)
    for k in (REF, be):
        mean, var = np.empty(n), np.empty(n)
        k.predictive_moments(X, np.zeros(p - 1), True, R, mu, mean, var)
        np.testing.assert_allclose(var, exact, rtol=1e-12)
    xi = np.empty(n)
    be.jj_step(X, np.ones(n), np.ones(n), True, R, mu, xi, np.empty((p, p)), False, 1)
    a = (Xt @ mu.astype(np.longdouble)).astype(float)
    np.testing.assert_allclose(xi ** 2, exact + a * a, rtol=1e-12)


def test_jj_lambda_limits():
    xi = np.array([0.0, 1e-6, 1e-4, 1e-3, 1.0, 30.0, 1e4])
    lam = jj_lambda(xi)
    assert lam[0] == 0.125
    big = xi[2:]
    np.testing.assert_allclose(lam[2:], (1 / (1 + np.exp(-big)) - 0.5) / (2 * big), rtol=1e-12)
    assert np.all(np.diff(lam) <= 0)  # decreasing in xi


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_bit_identical_across_threads(backend):
    be = require_backend(backend, "regression")
    n, d = 20000, 9
    X, sw, center, t, rng = problem(n, d, np.float64, seed=3)
    assert row_chunks(n, d + 1).shape[0] > 3  # several chunks
    R, mu = posterior(rng, d + 1)
    outs = []
    for threads in (1, 2, 3):
        G = np.empty((d + 1, d + 1))
        be.weighted_gram(X, sw, center, True, G, threads)
        xi, G2 = np.empty(n), np.empty((d + 1, d + 1))
        v = be.jj_step(X, t, sw, True, R, mu, xi, G2, True, threads)
        m, s = np.empty(n), np.empty(n)
        be.predictive_moments(X, center, True, R, mu, m, s, threads)
        outs.append((G, xi, G2, v, m, s))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_block_rows_and_chunks():
    assert block_rows(1) == 1024 and block_rows(10 ** 6) == 16
    b = row_chunks(10 ** 6, 200)
    assert b[0] == 0 and b[-1] == 10 ** 6 and np.all(np.diff(b) > 0)
    # partial matrices are capped at 64 MiB
    assert (row_chunks(10 ** 6, 4000).shape[0] - 1) * 4000 ** 2 * 8 <= 1 << 26 or \
        row_chunks(10 ** 6, 4000).shape[0] == 2
