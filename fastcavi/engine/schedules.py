"""Step-size schedules of stochastic VI."""

__all__ = ["robbins_monro_rate"]


def robbins_monro_rate(learning_offset, t, learning_decay):
    """Step size rho_t = (tau_0 + t) ** (-kappa) of stochastic VI.

    Parameters
    ----------
    learning_offset : float
        tau_0 >= 1 (scikit-learn's ``learning_offset``); down-weights early
        iterations.
    t : int
        Number of minibatch updates made so far (scikit-learn's
        ``n_batch_iter_``, which starts at 1).
    learning_decay : float
        kappa in (0.5, 1] guarantees convergence (Robbins-Monro conditions);
        kappa = 0 gives a constant step of 1.

    Returns
    -------
    rho_t : float
        In (0, 1].
    """
    return float((learning_offset + t) ** (-learning_decay))
