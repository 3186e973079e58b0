"""Estimator plumbing shared by every fastcavi estimator.

:func:`fit_transaction` is the one way a fit is committed: the estimator's
attributes are those of the previous model until the fit returns, and a fit
that raises (bad input, a NaN from a kernel, a ``KeyboardInterrupt``) leaves
them exactly as they were.
"""

import functools
from contextlib import contextmanager

__all__ = ["fit_transaction", "transactional"]


@contextmanager
def fit_transaction(estimator):
    """Restore ``vars(estimator)`` if the body raises.

    The snapshot is shallow: an attribute the body rebinds, adds or deletes is
    put back, but an array the previous model published must not be written in
    place (fitting code builds new arrays and assigns them; the tests compare
    every attribute deeply before and after a failed fit).

    Parameters
    ----------
    estimator : object
        Any object with a ``__dict__``.

    Yields
    ------
    None

    Raises
    ------
    BaseException
        Whatever the body raised, re-raised after the restore
        (``KeyboardInterrupt`` and ``SystemExit`` included).
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        state = vars(estimator)
        state.clear()
        state.update(saved)
        raise


def transactional(method):
    """Decorator: run ``method(self, ...)`` inside :func:`fit_transaction`.

    Parameters
    ----------
    method : callable
        A method such as ``fit`` or ``partial_fit``.

    Returns
    -------
    callable
        The wrapped method, with the same name and docstring.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with fit_transaction(self):
            return method(self, *args, **kwargs)

    return wrapper
