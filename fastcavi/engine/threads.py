"""Thread counts: ``n_jobs`` as scikit-learn reads it, and BLAS kept out of the kernels' way."""

from joblib import effective_n_jobs
from threadpoolctl import threadpool_limits

__all__ = ["effective_threads", "limit_blas"]


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
