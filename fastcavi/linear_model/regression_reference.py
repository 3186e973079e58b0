"""NumPy reference of the regression kernels (the "regression" model family).

The readable oracle that :mod:`fastcavi.linear_model.regression_numba` and the
Cython module ``fastcavi._ext._regression`` are tested against. Three kernels
serve :class:`fastcavi.VBLinearRegression` and
:class:`fastcavi.VBLogisticRegression`; all of them sweep the rows of a dense
design matrix once and never hold more than one block of rows in float64.

Notation. ``X`` is (n, d); the *augmented row* is
``x~_n = [x_n - center, 1]`` when ``intercept`` is true and ``x_n - center``
otherwise, so p = d + intercept. A Gaussian q(w) = N(mu, Sigma) over the p
weights is passed as ``mu`` and the upper-triangular Cholesky factor ``R`` of
its *precision*, ``Sigma^-1 = R^T R``; then ``x~^T Sigma x~ = ||R^-T x~||^2``,
a triangular solve per row. The compiled backends instead multiply each block
of rows by the triangular factor of :func:`moment_factor`, ``[R^-1, mu; 0, 1]``
(BLAS ``dtrmm``: n p^2 flops, like the triangular solve, but at the speed of a
matrix product), which gives ``R^-T x~`` and ``x~^T mu`` in one product.

Jaakkola-Jordan bound (Jaakkola & Jordan 2000, Statistics and Computing 10;
Bishop PRML section 10.6, eqs. 10.144-10.163). For a label t in {-1, +1} and
a = w^T x~::

    log sigma(t a) >= log sigma(xi) + (t a - xi) / 2 - lambda(xi) (a^2 - xi^2)
    lambda(xi) = (sigma(xi) - 1/2) / (2 xi) = tanh(xi / 2) / (4 xi),  lambda(0) = 1/8

The optimal xi_n given q(w) is xi_n^2 = E[a_n^2] = x~_n^T (Sigma + mu mu^T) x~_n
(PRML eq. 10.163), at which the bound's expectation is
``log sigma(xi) - xi / 2 + t E[a] / 2`` per sample.
"""

import numpy as np
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dtrtri
from scipy.special import log_expit

#: the kernel functions every backend of the "regression" family defines
KERNELS = ("weighted_gram", "predictive_moments", "jj_step")

__all__ = list(KERNELS) + ["jj_lambda", "block_rows", "row_chunks", "moment_factor"]


def block_rows(p):
    """Rows per block for p augmented columns: about 300 KiB of float64, in [16, 1024].

    A block's scratch buffers (one or two of these), the p x p partial matrix
    and, in the logistic sweep, the (p+1) x (p+1) factor of
    :func:`moment_factor` share L2 (2 MiB per core here) with BLAS's packing
    buffers. Measured with ``dtrmm`` (n=200,000, p=201, one thread, CPU time,
    interleaved runs, load 3-7 on 2 cores): 192 rows per block against 509
    (the earlier 800 KiB) made the fused logistic sweep 8% faster and the
    weighted Gram 6% faster; 96-1024 rows were all within 10% of each other.
    (Before ``dtrmm``, with ``dtrsm``, 400-512 rows ran 1.3-1.6x faster than 163
    and than 1024-2048.)

    Parameters
    ----------
    p : int
        Number of augmented columns.

    Returns
    -------
    rows : int
    """
    return int(min(1024, max(16, 38400 // max(p, 1))))


#: most chunks (partial Gram matrices) per call, and their memory budget
_MAX_CHUNKS = 64
_PARTIAL_BYTES = 1 << 26
#: a chunk spans at most four sets of rows of this many float64 values (800 KiB),
#: block_rows' size until it shrank to 300 KiB; chunks kept theirs, so the
#: chunk-ordered sums (and the tests that count chunks) did not change
_CHUNK_BLOCK_VALUES = 102400


def row_chunks(n, p, with_partials=True):
    """Chunk boundaries over n rows; their number depends only on (n, p).

    As few chunks as hold at most ``4 * min(1024, max(16, 102400 // p))`` rows
    each, independently of :func:`block_rows`, but never more than 64 (nor,
    with partial matrices, more than 64 MiB of them): then chunks are larger.

    Parameters
    ----------
    n, p : int
        Rows and augmented columns.
    with_partials : bool, default=True
        Whether each chunk holds a p x p float64 partial matrix (caps the
        number of chunks at 64 MiB of them).

    Returns
    -------
    bounds : ndarray of shape (m + 1,), int64
    """
    rows = int(min(1024, max(16, _CHUNK_BLOCK_VALUES // max(p, 1))))
    n_chunks = max(1, min(_MAX_CHUNKS, -(-n // (4 * rows))))
    if with_partials:
        n_chunks = max(1, min(n_chunks, _PARTIAL_BYTES // (8 * p * p)))
    return np.unique(np.linspace(0, n, n_chunks + 1).astype(np.int64))


def moment_factor(R, mu):
    """Upper-triangular F with ``[x~, 0] F = [(R^-T x~)^T, x~^T mu]`` for every x~.

    ``F = [[R^-1, mu], [0, 1]]``, so for a row block Z = [X~, 0] F (one BLAS
    ``dtrmm``, n (p+1)^2 flops) row n holds ``R^-T x~_n`` (whose squared norm
    is x~_n^T Sigma x~_n, since Sigma = R^-1 R^-T) followed by
    a_n = x~_n^T mu, and its squared norm over all p + 1 entries is
    x~_n^T (Sigma + mu mu^T) x~_n = xi_n^2 (PRML eq. 10.163). The compiled
    backends use it in place of a triangular solve per row block (``dtrsm``),
    which costs the same n p^2 flops but runs slower: 20 against 55 GFLOP/s
    (OpenBLAS 0.3.31, p = 201, blocks of 256-1024 rows, one thread). The
    explicit triangular inverse costs p^3 / 3 flops once per call and is as
    accurate here as the solve (about 3e-15 relative at cond(R^T R) = 1e10).

    Parameters
    ----------
    R : ndarray of shape (p, p), float64
        Upper-triangular with nonzero diagonal, Sigma^-1 = R^T R; only the
        upper triangle is read.
    mu : ndarray of shape (p,), float64

    Returns
    -------
    F : ndarray of shape (p + 1, p + 1), float64, C-contiguous
        Upper triangular (the strict lower triangle is zero).

    Raises
    ------
    numpy.linalg.LinAlgError
        If a diagonal entry of R is exactly zero (R singular).
    """
    R = np.asarray(R, dtype=np.float64)
    p = R.shape[0]
    F = np.zeros((p + 1, p + 1))
    if p:
        inv, info = dtrtri(R, lower=0)
        if info > 0:
            raise np.linalg.LinAlgError(f"R is singular: R[{info - 1}, {info - 1}] = 0")
        F[:p, :p] = np.triu(inv)  # the strict lower triangle of inv is R's (f2py copy)
    F[:p, p] = mu
    F[p, p] = 1.0
    return F


def jj_lambda(xi):
    """lambda(xi) = tanh(xi / 2) / (4 xi) of the Jaakkola-Jordan bound, elementwise.

    Parameters
    ----------
    xi : ndarray of float64, xi >= 0

    Returns
    -------
    lam : ndarray of float64
        1/8 at xi = 0 (the limit), else tanh(xi/2) / (4 xi); below xi = 1e-4
        the series 1/8 - xi^2/96 is used (exact to double precision).
    """
    xi = np.asarray(xi, dtype=np.float64)
    small = xi < 1e-4
    safe = np.where(small, 1.0, xi)
    return np.where(small, 0.125 - xi * xi / 96.0, np.tanh(0.5 * safe) / (4.0 * safe))


def _augment(X, center, intercept):
    Xt = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    if intercept:
        Xt = np.hstack([Xt, np.ones((Xt.shape[0], 1))])
    return Xt


def weighted_gram(X, sample_weight, center, intercept, G, n_threads=1):
    """Weighted scatter matrix of the augmented rows.

    ``G[:] = sum_n s_n x~_n x~_n^T`` with ``x~_n = [x_n - center, 1?]``: the
    X^T S X of Bayesian linear regression (PRML eq. 3.54 with a precision-weighted
    design; Drugowitsch 2013, eq. 8) formed once per fit, and with
    s_n = 2 s'_n lambda(xi_n) the Jaakkola-Jordan precision update
    (PRML eq. 10.157). Centring inside the block avoids the cancellation of
    ``X^T S X - S xbar xbar^T``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,), float64
        Non-negative row weights s_n.
    center : ndarray of shape (d,), float64
        Subtracted from every row (zeros for none).
    intercept : bool
        Append a constant 1 to every row (p = d + 1).
    G : ndarray of shape (p, p), float64, C-contiguous
        Out: the full symmetric matrix (both triangles).
    n_threads : int, default=1
        Ignored by the reference. The fast backends split the rows into a
        number of chunks that depends only on (n, p), give each chunk its own
        partial matrix (BLAS ``dsyrk`` on row blocks scaled by sqrt(s_n)) and
        add the partial matrices in chunk order, so the result does not depend
        on the thread count.
    """
    Xt = _augment(X, center, intercept)
    G[...] = Xt.T @ (Xt * np.asarray(sample_weight, dtype=np.float64)[:, None])
    G[...] = 0.5 * (G + G.T)


def predictive_moments(X, center, intercept, R, mu, mean, var, n_threads=1):
    """Mean and variance of a = w^T x~_n under q(w) = N(mu, (R^T R)^-1), per row.

    ``mean[n] = x~_n^T mu`` and ``var[n] = x~_n^T Sigma x~_n = ||R^-T x~_n||^2``:
    the predictive moments of Bayesian linear regression (PRML eq. 3.59) and
    of the activation in the probit approximation (PRML eqs. 4.149-4.155;
    MacKay 1992).

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    center : ndarray of shape (d,), float64
    intercept : bool
    R : ndarray of shape (p, p), float64, C-contiguous
        Upper-triangular with positive diagonal; Sigma^-1 = R^T R. Only the
        upper triangle is read.
    mu : ndarray of shape (p,), float64
    mean, var : ndarray of shape (n,), float64
        Out.
    n_threads : int, default=1
        Ignored by the reference.
    """
    Xt = _augment(X, center, intercept)
    mean[...] = Xt @ np.asarray(mu, dtype=np.float64)
    Z = solve_triangular(np.triu(R), Xt.T, trans="T", lower=False)  # R^-T x~
    var[...] = np.einsum("ij,ij->j", Z, Z)


def jj_step(X, t, sample_weight, intercept, R, mu, xi, G, compute_gram, n_threads=1):
    """One Jaakkola-Jordan sweep: optimal xi, its ELBO data term, and the new precision's Gram.

    For every row: ``a_n = x~_n^T mu``, ``xi_n = sqrt(x~_n^T Sigma x~_n + a_n^2)``
    (PRML eq. 10.163), ``lambda_n = lambda(xi_n)``; then, if ``compute_gram``,
    ``G[:] = sum_n 2 s_n lambda_n x~_n x~_n^T`` (the data part of the
    posterior precision, PRML eq. 10.157). Here ``x~_n = [x_n, 1?]`` (no
    centring).

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    t : ndarray of shape (n,), float64
        Labels in {-1, +1}.
    sample_weight : ndarray of shape (n,), float64
        Non-negative s_n.
    intercept : bool
    R : ndarray of shape (p, p), float64, C-contiguous
        Upper Cholesky factor of q(w)'s precision (upper triangle read).
    mu : ndarray of shape (p,), float64
    xi : ndarray of shape (n,), float64
        Out: the optimal variational parameters xi_n >= 0.
    G : ndarray of shape (p, p), float64, C-contiguous
        Out (when ``compute_gram``): full symmetric matrix.
    compute_gram : bool
    n_threads : int, default=1
        Ignored by the reference.

    Returns
    -------
    data_term : float
        ``sum_n s_n (log sigma(xi_n) - xi_n / 2 + t_n a_n / 2)`` in nats: the
        expected Jaakkola-Jordan bound on the log-likelihood at the optimal xi
        (PRML eq. 10.164, first terms), summed in float64.
    """
    n = X.shape[0]
    mean = np.empty(n)
    var = np.empty(n)
    predictive_moments(X, np.zeros(X.shape[1]), intercept, R, mu, mean, var)
    xi[...] = np.sqrt(var + mean * mean)
    s = np.asarray(sample_weight, dtype=np.float64)
    if compute_gram:
        weighted_gram(X, 2.0 * s * jj_lambda(xi), np.zeros(X.shape[1]), intercept, G)
    return float(np.sum(s * (log_expit(xi) - 0.5 * xi + 0.5 * np.asarray(t) * mean)))
