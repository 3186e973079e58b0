"""NumPy reference of the spike-and-slab regression kernels (the oracle).

Model (Carbonetto & Stephens 2012, *Bayesian Analysis* 7(1), section 2; the
``varbvs`` package)::

    y = X beta + e,          e ~ N(0, sigma2 I)
    beta_j | gamma_j = 1 ~ N(0, sigma2 sa),   beta_j | gamma_j = 0 = 0
    gamma_j ~ Bernoulli(pi_j),               logodds_j = log(pi_j / (1 - pi_j))

Fully factorised variational family (their section 2)::

    q(beta_j, gamma_j) = alpha_j N(beta_j; mu_j, s_j)   if gamma_j = 1
                         (1 - alpha_j) delta_0(beta_j)   if gamma_j = 0

One coordinate update maximises the ELBO exactly over (alpha_j, mu_j, s_j)
with every other factor fixed (their section 3; varbvs's ``varbvsnormupdate``)::

    d_j     = x_j^T x_j
    s_j     = sigma2 sa / (sa d_j + 1)
    mu_j    = s_j / sigma2 * (x_j^T y - x_j^T Xr + d_j alpha_j mu_j)
    alpha_j = sigmoid(logodds_j + log(s_j / (sa sigma2)) / 2 + mu_j^2 / (2 s_j))
    Xr     += (alpha_j mu_j - alpha_j_old mu_j_old) x_j

where ``Xr = X (alpha * mu)`` is kept current, so each coordinate costs two
passes of length n over one column of X (one inner product, one axpy). A
sweep visits the coordinates in the order given (the estimator alternates
forward and backward sweeps). Because every update is an exact maximisation
of the ELBO in its block, the ELBO never decreases along a sweep.

Two layouts of X:

- :func:`spikeslab_sweep_dense`: X dense and Fortran-ordered (columns
  contiguous), float32 or float64;
- :func:`spikeslab_sweep_csc`: X sparse in CSC form, with *implicit* centring
  and row weights: the design actually used is ``X'_j = xs_j - m_j v``, where
  ``xs_j`` is the stored sparse column, ``m_j = xm[j]`` its (weighted) mean and
  ``v`` a fixed n-vector with ``v^T xs_j = m_j wsum`` and ``v^T v = wsum``
  (``v = 1`` unweighted, ``v = sqrt(w)`` with weights). The kernel keeps
  ``Xr`` = ``Xs (alpha * mu)`` (the *uncentred* product, still sparse-cheap)
  and the scalar ``T = v^T Xr``; then ``X'_j^T (X' b) = xs_j^T Xr - m_j T``
  exactly, and ``T`` changes by ``delta m_j wsum`` when ``Xr`` changes by
  ``delta xs_j``. The estimator passes ``xm = 0`` when it does not centre.

Every floating-point quantity but X itself is float64 (``xy``, ``d``,
``alpha``, ``mu``, ``s``, ``Xr``); float32 X is read as float32 and promoted
in each product, so float32 only halves the memory traffic of X.

The compiled backends (:mod:`fastcavi.linear_model.spikeslab_numba`,
``fastcavi._ext._spikeslab``) form each inner product over fixed row chunks of
:data:`CHUNK` rows (Cython: 16 partial sums per chunk; Numba: LLVM's
vectorised order), then add the chunk sums in order; when ``n_threads > 1``
and n >= their module-level ``PARALLEL_MIN_ROWS``, the chunks of one
coordinate are shared among threads. The partition depends on n only, so
their results are bit-identical for any ``n_threads``. ``order`` must not
repeat a coordinate when threads are used (the Cython backend checks).
"""

import numpy as np

#: the kernel functions every backend of the "spikeslab" family defines
KERNELS = ("spikeslab_sweep_dense", "spikeslab_sweep_csc")

#: rows per chunk of the compiled backends' inner products (a multiple of 8)
CHUNK = 1024

__all__ = ["KERNELS", "CHUNK", "spikeslab_sweep_dense", "spikeslab_sweep_csc", "sigmoid"]


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow, for a float or an ndarray (float64)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out if out.ndim else float(out)


def _update(j, xr_dot, xy, d, sigma2, sa, logodds, alpha, mu, s):
    """The coordinate update of (s_j, mu_j, alpha_j); returns the change of alpha_j mu_j."""
    old = alpha[j] * mu[j]
    sj = sigma2 * sa / (sa * d[j] + 1.0)
    mj = sj / sigma2 * (xy[j] - xr_dot + d[j] * old)
    logit = logodds[j] + 0.5 * np.log(sj / (sa * sigma2)) + mj * mj / (2.0 * sj)
    aj = sigmoid(logit)
    s[j], mu[j], alpha[j] = sj, mj, aj
    return aj * mj - old


def spikeslab_sweep_dense(X, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr, order, n_threads=1):
    """One CAVI sweep of the spike-and-slab regression over dense columns.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, Fortran-ordered
        The design (already centred / weighted by the estimator).
    xy : ndarray of shape (n_features,), float64
        ``X^T y``.
    d : ndarray of shape (n_features,), float64
        ``diag(X^T X)``, the squared column norms (>= 0).
    sigma2 : float
        Residual variance sigma^2 (> 0).
    sa : float
        Prior variance of the effects in units of sigma^2 (> 0).
    logodds : ndarray of shape (n_features,), float64
        Prior log-odds of inclusion of each coordinate.
    alpha, mu, s : ndarray of shape (n_features,), float64, in/out
        Variational parameters: inclusion probability, mean and variance of
        the slab component of each q(beta_j, gamma_j).
    Xr : ndarray of shape (n_samples,), float64, in/out
        ``X (alpha * mu)`` on entry; kept current by the sweep.
    order : ndarray of shape (m,), int64
        Coordinates to update, in this order (each in ``[0, n_features)``).
    n_threads : int, default=1
        Ignored by the reference.

    Returns
    -------
    None
    """
    for j in order:
        x = X[:, j]
        delta = _update(j, float(x @ Xr), xy, d, sigma2, sa, logodds, alpha, mu, s)
        Xr += delta * x.astype(np.float64)


def spikeslab_sweep_csc(data, indices, indptr, xm, wsum, xy, d, sigma2, sa, logodds, alpha, mu,
                        s, Xr, xr_sum, order, n_threads=1):
    """One CAVI sweep over the columns of a CSC matrix, centred implicitly.

    The design is ``X'_j = xs_j - xm[j] v`` (see the module docstring); only
    ``xs`` (the stored columns), ``xm`` and ``wsum`` enter.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64
        CSC values of ``xs`` (rows already scaled by sqrt(sample_weight)).
    indices : ndarray of shape (nnz,), int32 or int64
        Row index of each value.
    indptr : ndarray of shape (n_features + 1,), int32 or int64
        Column pointers.
    xm : ndarray of shape (n_features,), float64
        Column means m_j (zeros: no centring).
    wsum : float
        ``v^T v``, the sum of the sample weights (n_samples without weights).
    xy, d : ndarray of shape (n_features,), float64
        ``X'^T y`` and the squared norms of the centred columns ``X'_j``.
    sigma2, sa, logodds, alpha, mu, s, order, n_threads
        As in :func:`spikeslab_sweep_dense`.
    Xr : ndarray of shape (n_samples,), float64, in/out
        The uncentred product ``xs (alpha * mu)``.
    xr_sum : ndarray of shape (1,), float64, in/out
        ``T = v^T Xr``; kept current.

    Returns
    -------
    None
    """
    for j in order:
        lo, hi = indptr[j], indptr[j + 1]
        rows = indices[lo:hi]
        x = data[lo:hi].astype(np.float64)
        xr_dot = float(x @ Xr[rows]) - xm[j] * xr_sum[0]
        delta = _update(j, xr_dot, xy, d, sigma2, sa, logodds, alpha, mu, s)
        Xr[rows] += delta * x
        xr_sum[0] += delta * xm[j] * wsum
