"""Shared pieces of the CAVI and stochastic-VI drivers.

- :func:`robbins_monro_rate`: the step size rho_t of stochastic VI
  (Hoffman et al. 2013, JMLR, eq. 26; Hoffman et al. 2010, NIPS, eq. 9).
- :func:`effective_threads`: ``n_jobs`` -> number of threads, scikit-learn's
  convention.
- :class:`PassMonitor`: per-pass timing, ELBO and throughput, shown in a tqdm
  progress bar and printed with ``verbose``.
- :func:`limit_blas`: keep BLAS single-threaded while the kernels run their
  own threads, so the two never oversubscribe the cores.
"""

import time

from joblib import effective_n_jobs
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

__all__ = ["robbins_monro_rate", "effective_threads", "PassMonitor", "limit_blas"]


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


def effective_threads(n_jobs):
    """Number of threads for ``n_jobs``, following joblib/scikit-learn.

    Parameters
    ----------
    n_jobs : int or None
        None means 1 (unless inside a ``joblib.parallel_config`` context);
        -1 means all CPUs, -2 all but one, and so on.

    Returns
    -------
    n_threads : int
        At least 1.
    """
    return max(1, int(effective_n_jobs(n_jobs)))


def limit_blas():
    """Context manager limiting BLAS to one thread while kernels run threads.

    Returns
    -------
    threadpoolctl.threadpool_limits
    """
    return threadpool_limits(limits=1, user_api="blas")


class PassMonitor:
    """Timing, ELBO and throughput of each pass of a driver.

    Parameters
    ----------
    n_passes : int
        Planned number of passes (the progress bar's total).
    n_tokens : float
        Tokens (or samples) processed per pass, for the throughput figure.
    progress_bar : bool
        Show a tqdm progress bar (on stderr) with the ELBO and tokens/s.
    verbose : int
        Print one line per pass when > 0, as scikit-learn does.
    unit : str, default="tokens"
        Name of what ``n_tokens`` counts.
    """

    def __init__(self, n_passes, n_tokens, progress_bar=False, verbose=0, unit="tokens"):
        self.n_passes = n_passes
        self.n_tokens = float(n_tokens)
        self.verbose = verbose
        self.unit = unit
        self.pass_seconds = []
        self._bar = tqdm(total=n_passes, disable=not progress_bar, unit="pass", leave=True)
        self._t0 = time.perf_counter()

    def end_pass(self, i, elbo=None, extra=""):
        """Record the end of pass ``i`` (0-based) with its ELBO (nats) or None."""
        now = time.perf_counter()
        seconds = now - self._t0
        self._t0 = now
        self.pass_seconds.append(seconds)
        rate = self.n_tokens / seconds if seconds > 0 else float("inf")
        postfix = {f"{self.unit}/s": f"{rate:.3g}"}
        if elbo is not None:
            postfix["elbo"] = f"{elbo:.6g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)
        if self.verbose:
            msg = f"iteration: {i + 1} of max_iter: {self.n_passes}"
            if elbo is not None:
                msg += f", elbo: {elbo:.6g}"
            msg += f", {rate:.3g} {self.unit}/s{extra}"
            print(msg)

    def close(self):
        """Close the progress bar."""
        self._bar.close()
