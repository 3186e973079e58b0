"""The prior hyper-parameters of the variational Gaussian mixture.

scikit-learn's names and defaults (see :mod:`fastcavi.mixture.steps` for the
model): ``weight_concentration_prior`` = alpha_0, ``mean_precision_prior`` =
beta_0, ``mean_prior`` = m_0, ``degrees_of_freedom_prior`` = nu_0 and
``covariance_prior`` = W_0^-1.
"""

import numpy as np

__all__ = ["resolve_priors", "make_proper"]


def resolve_priors(X, w, cov_type, n_components, weight_concentration_prior=None,
                   mean_precision_prior=None, mean_prior=None, degrees_of_freedom_prior=None,
                   covariance_prior=None):
    """The prior hyper-parameters in use, scikit-learn's defaults and checks.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Training data (the defaults of m_0 and W_0^-1 come from it).
    w : ndarray of shape (n,) or None
        Sample weights; None is the unweighted case, which reproduces
        scikit-learn's ``X.mean(0)`` and ``np.cov(X.T)`` exactly. With weights
        the mean is weighted and the covariance uses the frequency-weight
        correction ``sum(w) - 1`` (repeating rows gives the same prior).
    cov_type : {"full", "tied", "diag", "spherical"}
    n_components : int
    weight_concentration_prior, mean_precision_prior, mean_prior,
    degrees_of_freedom_prior, covariance_prior
        The estimator's parameters (None: scikit-learn's default: 1/K, 1,
        the data mean, n_features, the data covariance in the layout of
        ``cov_type``).

    Returns
    -------
    priors : dict
        ``alpha0`` (float), ``beta0`` (float), ``m0`` ((d,) float64), ``nu0``
        (float), ``cov0`` (W_0^-1: (d, d) for full/tied, (d,) diag, float
        spherical; float64).

    Raises
    ------
    ValueError
        Wrong shape of ``mean_prior`` or ``covariance_prior``, a covariance
        prior that is not symmetric positive definite (or not positive),
        ``degrees_of_freedom_prior <= n_features - 1``, non-finite values, or
        (weighted, default covariance prior) ``sum(sample_weight) <= 1``.
    """
    n, d = X.shape
    X64 = np.asarray(X, dtype=np.float64)
    alpha0 = 1.0 / n_components if weight_concentration_prior is None else float(
        weight_concentration_prior)
    beta0 = 1.0 if mean_precision_prior is None else float(mean_precision_prior)

    if mean_prior is None:
        if w is None:
            m0 = np.asarray(X.mean(axis=0), dtype=np.float64)
        else:
            m0 = (w @ X64) / float(w.sum())
    else:
        m0 = np.asarray(mean_prior, dtype=np.float64)
        if m0.shape != (d,):
            raise ValueError(
                f"The parameter 'means' should have the shape of {(d,)}, but got {m0.shape}"
            )
        if not np.all(np.isfinite(m0)):
            raise ValueError("mean_prior must contain only finite values")

    if degrees_of_freedom_prior is None:
        nu0 = float(d)
    elif degrees_of_freedom_prior > d - 1.0:
        nu0 = float(degrees_of_freedom_prior)
    else:
        raise ValueError(
            "The parameter 'degrees_of_freedom_prior' should be greater than %d, but got %.3f."
            % (d - 1, degrees_of_freedom_prior)
        )

    if covariance_prior is None:
        if w is None:
            if cov_type in ("full", "tied"):
                full = var = np.atleast_2d(np.cov(X64.T))
            else:
                full = var = np.var(X64, axis=0, ddof=1)
        else:
            sw = float(w.sum())
            if sw <= 1.0:
                raise ValueError(
                    "The default covariance_prior (the weighted data covariance, with the "
                    "frequency-weight correction sum(sample_weight) - 1) needs "
                    f"sum(sample_weight) > 1; got {sw!r}. Pass covariance_prior explicitly."
                )
            Xc = X64 - m0 if mean_prior is None else X64 - (w @ X64) / sw
            full = (Xc.T * w) @ Xc / (sw - 1.0)
            var = np.diag(full).copy()
        if cov_type in ("full", "tied"):
            cov0 = full
        elif cov_type == "diag":
            cov0 = var
        else:
            cov0 = float(var.mean())
    elif cov_type in ("full", "tied"):
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.shape != (d, d):
            raise ValueError(
                f"The parameter '{cov_type} covariance_prior' should have the shape of "
                f"{(d, d)}, but got {cov0.shape}"
            )
        if not (np.all(np.isfinite(cov0)) and np.allclose(cov0, cov0.T)
                and np.all(np.linalg.eigvalsh(cov0) > 0.0)):
            raise ValueError(
                f"'{cov_type} covariance_prior' should be symmetric, positive-definite"
            )
    elif cov_type == "diag":
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.shape != (d,):
            raise ValueError(
                f"The parameter 'diag covariance_prior' should have the shape of {(d,)}, "
                f"but got {cov0.shape}"
            )
        if not np.all(np.isfinite(cov0)) or np.any(cov0 <= 0.0):
            raise ValueError("'diag covariance_prior' should be positive")
    else:
        cov0 = np.asarray(covariance_prior, dtype=np.float64)
        if cov0.ndim != 0 or not np.isfinite(cov0) or cov0 <= 0:
            raise ValueError(
                "'spherical covariance_prior' should be a positive float; got "
                f"{covariance_prior!r}"
            )
        cov0 = float(cov0)
    return {"alpha0": alpha0, "beta0": beta0, "m0": m0, "nu0": nu0, "cov0": cov0}


def make_proper(cov0, reg):
    """Add ``reg`` to the diagonal of a numerically singular default covariance prior.

    Parameters
    ----------
    cov0 : ndarray of shape (d, d) or (d,), or float
        W_0^-1 in the layout of the covariance type.
    reg : float
        The estimator's ``reg_covar``.

    Returns
    -------
    cov0 : same type and shape
        Unchanged when it is positive definite to working precision.
    """
    if np.ndim(cov0) == 2:
        eig = np.linalg.eigvalsh(cov0)
        if eig[0] <= max(eig[-1], 0.0) * cov0.shape[0] * np.finfo(np.float64).eps * 10:
            return cov0 + reg * np.eye(cov0.shape[0])
        return cov0
    arr = np.asarray(cov0, dtype=np.float64)
    if np.any(arr <= np.max(arr, initial=0.0) * np.finfo(np.float64).eps * 10):
        arr = arr + reg
    return float(arr) if np.ndim(cov0) == 0 else arr
