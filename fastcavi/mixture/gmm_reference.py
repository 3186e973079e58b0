"""NumPy reference of the Bayesian Gaussian mixture kernel (the oracle).

One function, :func:`gmm_e_step`: the fused E-step and sufficient statistics
of the variational Gaussian mixture (Bishop 2006, *Pattern Recognition and
Machine Learning*, section 10.2). For every sample i and component k

    log rho_ik = log_bias_k - 1/2 || (x_i - m_k)^T U_k ||^2          (10.46, 10.64-10.66)
    r_ik = rho_ik / sum_j rho_ij                                     (10.49)

and, from the responsibilities, the weighted statistics of eqs. 10.51-10.53
taken about the current means m_k (a shift that avoids the cancellation of
raw second moments):

    N_k  = sum_i w_i r_ik                                             (10.51)
    sx_k = sum_i w_i r_ik (x_i - m_k)                  [N_k (xbar_k - m_k), 10.52]
    sxx_k = sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T   [N_k S_k + ..., 10.53]

The samples are processed in blocks of :data:`BLOCK` rows, so memory is
O(BLOCK x K) and never N x K x D. Everything is computed in float64 whatever
the input dtype; per-sample outputs are stored in the input dtype.

The compiled backends (:mod:`fastcavi.mixture.gmm_numba`,
``fastcavi._ext._gmm``) partition the samples with :func:`chunk_bounds`, a
partition that depends on n only, accumulate each chunk sequentially into its
own float64 partials and sum the partials in chunk order, so their results are
bit-identical whatever the number of threads.
"""

import numpy as np

#: the kernel functions every backend of the "gmm" family defines
KERNELS = ("gmm_e_step",)

#: rows per block of the reference
BLOCK = 512
#: the compiled backends use at most this many chunks (each a whole number of
#: their 256-row blocks), whatever the thread count
MAX_CHUNKS = 64
#: row granularity of a chunk of the compiled backends
CHUNK_ALIGN = 256

COV_TYPES = ("full", "tied", "diag", "spherical")

__all__ = ["gmm_e_step", "chunk_bounds", "KERNELS", "COV_TYPES"]


def chunk_bounds(n):
    """Static partition of n samples into chunks, a function of n only.

    Parameters
    ----------
    n : int
        Number of samples (>= 0).

    Returns
    -------
    bounds : ndarray of shape (n_chunks + 1,), int64
        Chunk c covers rows ``bounds[c]:bounds[c + 1]``. Every chunk but the
        last holds the same number of rows, a multiple of
        :data:`CHUNK_ALIGN`; there are at most :data:`MAX_CHUNKS` chunks, and
        none when n == 0 (``bounds == [0]``).
    """
    n = int(n)
    if n <= 0:
        return np.zeros(1, dtype=np.int64)
    size = -(-n // MAX_CHUNKS)
    size = -(-size // CHUNK_ALIGN) * CHUNK_ALIGN
    bounds = np.arange(0, n, size, dtype=np.int64)
    return np.append(bounds, np.int64(n))


def _log_rho_block(Xb, means, prec_chol, log_bias, cov_type):
    """log rho of one block, float64 of shape (b, K), and the differences.

    Returns the list of the (b, d) differences x_i - m_k (one per k) too,
    so the statistics reuse them.
    """
    n_comp = means.shape[0]
    log_rho = np.empty((Xb.shape[0], n_comp))
    diffs = []
    for k in range(n_comp):
        diff = Xb - means[k]
        if cov_type == "full":
            y = diff @ prec_chol[k]
        elif cov_type == "tied":
            y = diff @ prec_chol
        elif cov_type == "diag":
            y = diff * prec_chol[k]
        else:  # spherical
            y = diff * prec_chol[k]
        log_rho[:, k] = log_bias[k] - 0.5 * np.einsum("ij,ij->i", y, y)
        diffs.append(diff)
    return log_rho, diffs


def gmm_e_step(
    X,
    sample_weight,
    means,
    prec_chol,
    log_bias,
    cov_type,
    nk,
    sx,
    sxx,
    log_resp,
    log_norm,
    compute_stats,
    n_threads=1,
):
    """Fused E-step and responsibility-weighted statistics of a Gaussian mixture.

    One pass over blocks of samples computes, for each sample i and component
    k, ``log rho_ik = log_bias[k] - 0.5 * ||(x_i - m_k)^T U_k||^2`` (Bishop,
    PRML, eq. 10.46 with the expectations of eqs. 10.64-10.66 folded into
    ``log_bias``), the normaliser ``log_norm_i = log sum_k rho_ik`` (row-wise
    log-sum-exp), the log responsibilities ``log r_ik = log rho_ik -
    log_norm_i`` (eq. 10.49) and, if ``compute_stats``, the weighted
    statistics of eqs. 10.51-10.53 about the current means ``m_k``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
        Samples.
    sample_weight : ndarray of shape (n,), dtype of X
        Weight w_i of each sample (ones for an unweighted fit).
    means : ndarray of shape (K, d), dtype of X
        Current means m_k (``means_``).
    prec_chol : ndarray, dtype of X
        scikit-learn's ``precisions_cholesky_`` layout: for ``"full"`` shape
        (K, d, d), upper-triangular U_k with precision ``U_k U_k^T``, so that
        ``y = (x - m_k) @ U_k``; ``"tied"`` (d, d), one U for all k;
        ``"diag"`` (K, d), U_k = diag(prec_chol[k]); ``"spherical"`` (K,),
        U_k = prec_chol[k] * I.
    log_bias : ndarray of shape (K,), float64
        Per-component constant: for the variational mixture E[log pi_k]
        + log|U_k| - d/2 log(2 pi) - d/2 log(nu_k) + 1/2 (E[log|Lambda_k|]
        - d / beta_k) (eqs. 10.64-10.66, as scikit-learn's
        ``_estimate_log_prob`` + ``_estimate_log_weights``). Just added here.
    cov_type : {"full", "tied", "diag", "spherical"}
        Layout of ``prec_chol`` and ``sxx``.
    nk : ndarray of shape (K,), float64
        Out (if ``compute_stats``): ``sum_i w_i r_ik`` (eq. 10.51).
    sx : ndarray of shape (K, d), float64
        Out (if ``compute_stats``): ``sum_i w_i r_ik (x_i - m_k)``.
    sxx : ndarray, float64
        Out (if ``compute_stats``): ``"full"`` (K, d, d)
        ``sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T``, both triangles filled;
        ``"diag"`` (K, d) ``sum_i w_i r_ik (x_i - m_k)^2``, the square of the
        difference, never expanded; ``"spherical"`` (K,)
        ``sum_i w_i r_ik ||x_i - m_k||^2``; ``"tied"``: not computed (pass an
        empty array of shape (0,)).
    log_resp : ndarray of shape (n, K) or (0, K), dtype of X
        Out: log r_ik; an array with 0 rows skips writing it.
    log_norm : ndarray of shape (n,) or (0,), dtype of X
        Out: log sum_k rho_ik; an empty array skips writing it.
    compute_stats : bool
        If False, ``nk``, ``sx`` and ``sxx`` are not touched (they may be
        empty) and only the per-sample outputs and the returned sums are
        computed (predict, predict_proba, score_samples).
    n_threads : int, default=1
        Ignored by the reference.

    Returns
    -------
    sum_w_log_norm : float
        ``sum_i w_i log_norm_i`` in nats, computed in float64.
    sum_w_r_log_r : float
        ``sum_i w_i sum_k r_ik log r_ik`` (with 0 log 0 = 0), float64; minus
        the entropy of q(Z) in the ELBO (eq. 10.75).

    Notes
    -----
    ``nk``, ``sx`` and ``sxx`` are overwritten (zeroed first). Inputs are
    validated by the estimator; this function assumes shapes and dtypes are
    right. The estimator recentres the statistics: ``xbar_k = m_k + sx_k /
    N_k`` and ``N_k S_k = sxx_k - N_k (xbar_k - m_k)(xbar_k - m_k)^T``.
    """
    n, d = X.shape
    n_comp = means.shape[0]
    write_resp = log_resp.shape[0] != 0
    write_norm = log_norm.shape[0] != 0
    means64 = np.asarray(means, dtype=np.float64)
    prec64 = np.asarray(prec_chol, dtype=np.float64)
    bias64 = np.asarray(log_bias, dtype=np.float64)
    if compute_stats:
        nk[...] = 0.0
        sx[...] = 0.0
        if cov_type != "tied":
            sxx[...] = 0.0
    total_norm = 0.0
    total_rlogr = 0.0
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        Xb = np.asarray(X[start:stop], dtype=np.float64)
        w = np.asarray(sample_weight[start:stop], dtype=np.float64)
        log_rho, diffs = _log_rho_block(Xb, means64, prec64, bias64, cov_type)
        # row-wise log-sum-exp about the row maximum
        top = log_rho.max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            lse = top + np.log(np.exp(log_rho - top[:, None]).sum(axis=1))
        log_r = log_rho - lse[:, None]
        r = np.exp(log_r)
        if write_resp:
            log_resp[start:stop] = log_r
        if write_norm:
            log_norm[start:stop] = lse
        total_norm += float(w @ lse)
        with np.errstate(invalid="ignore"):
            r_log_r = np.where(r > 0.0, r * log_r, 0.0)
        total_rlogr += float(w @ r_log_r.sum(axis=1))
        if not compute_stats:
            continue
        wr = w[:, None] * r
        nk += wr.sum(axis=0)
        for k in range(n_comp):
            diff = diffs[k]
            wdiff = wr[:, k, None] * diff
            sx[k] += wdiff.sum(axis=0)
            if cov_type == "full":
                sxx[k] += wdiff.T @ diff
            elif cov_type == "diag":
                sxx[k] += wr[:, k] @ (diff * diff)
            elif cov_type == "spherical":
                sxx[k] += wr[:, k] @ np.einsum("ij,ij->i", diff, diff)
    return float(total_norm), float(total_rlogr)
