"""One stop-rule vocabulary for every estimator.

A rule is called by the driver after each pass with the pass's
:class:`~fastcavi.engine.drivers.PassRecord` and answers :data:`CONTINUE`,
:data:`STOP` (converged; the pass counts in ``n_iter``) or
:data:`STOP_UNCOUNTED` (converged; scikit-learn's LDA does not count the pass
on which it noticed convergence).

=====================  ===============================================  ================
rule                   stops when                                       used by
=====================  ===============================================  ================
:class:`ElboGain`      the ELBO rose by less than ``tol * weight``      VB regression
:class:`Change`        ``|value - previous value| < tol``               the mixture
:class:`EvaluateEvery` every k passes, ``|value - previous| < tol``     LDA (perplexity)
:class:`Below`         ``value < tol``                                  spike-and-slab
:class:`OnePass`       after the first pass (an exact update)           fixed-prior VB linear
=====================  ===============================================  ================
"""

import math

__all__ = ["CONTINUE", "STOP", "STOP_UNCOUNTED", "StopRule", "ElboGain", "Change",
           "EvaluateEvery", "Below", "OnePass", "Never"]

CONTINUE = 0
STOP = 1
STOP_UNCOUNTED = 2


class StopRule:
    """Base class: a rule that never stops; subclasses override :meth:`__call__`.

    Attributes
    ----------
    converged : bool
        Whether the last call answered STOP or STOP_UNCOUNTED.
    """

    converged = False

    def start(self):
        """Forget earlier passes (called by the driver before the first pass)."""
        self.converged = False

    def __call__(self, record):
        """Decide after a pass.

        Parameters
        ----------
        record : PassRecord

        Returns
        -------
        int
            CONTINUE, STOP or STOP_UNCOUNTED.
        """
        return CONTINUE

    def _stop(self, decision=STOP):
        self.converged = True
        return decision


class Never(StopRule):
    """Run ``max_iter`` passes (stochastic-VI epochs, fixed-work benchmarks)."""


class OnePass(StopRule):
    """Converged after one pass: the update is exact (a conjugate posterior)."""

    def __call__(self, record):
        return self._stop()


class ElboGain(StopRule):
    """Stop when a pass raises the ELBO by less than ``tol * weight`` nats.

    Parameters
    ----------
    tol : float
        Nats per unit of ``weight``.
    weight : float, default=1.0
        E.g. the total sample weight, so ``tol`` is per observation.
    """

    def __init__(self, tol, weight=1.0):
        self.tol = float(tol)
        self.weight = float(weight)

    def start(self):
        super().start()
        self._prev = None

    def __call__(self, record):
        prev, self._prev = self._prev, record.elbo
        if prev is not None and record.elbo - prev < self.tol * self.weight:
            return self._stop()
        return CONTINUE


class Change(StopRule):
    """Stop when ``|value(record) - value(previous record)| < tol``.

    Parameters
    ----------
    tol : float
    value : callable, default=the record's ELBO
        ``value(record) -> float``; the mixture uses scikit-learn's
        constant-free lower bound.
    initial : float, default=-inf
        The value before the first pass (scikit-learn's mixture starts from
        -inf, so the first pass never converges).

    Notes
    -----
    A pass whose ``record.changed`` is True (the model changed shape after the
    step, e.g. pruned components) never converges.
    """

    def __init__(self, tol, value=None, initial=-math.inf):
        self.tol = float(tol)
        self.value = value if value is not None else (lambda rec: rec.elbo)
        self.initial = initial

    def start(self):
        super().start()
        self.previous = self.initial
        self.last_change = math.nan

    def __call__(self, record):
        v = self.value(record)
        self.last_change = v - self.previous
        self.previous = v
        if abs(self.last_change) < self.tol and not record.changed:
            return self._stop()
        return CONTINUE


class EvaluateEvery(StopRule):
    """scikit-learn's ``evaluate_every`` / ``perp_tol`` rule of LDA.

    Every ``every`` passes (never when ``every <= 0``) evaluate
    ``value(record)`` (the training perplexity) and stop, without counting the
    pass, when it differs from the previous evaluation by less than ``tol``.

    Parameters
    ----------
    every : int
    tol : float
    value : callable
        ``value(record) -> float``.
    on_value : callable, optional
        ``on_value(record, value)``, e.g. to print scikit-learn's verbose line.

    Notes
    -----
    :meth:`evaluate` gives the value of a pass before the rule decides (LDA
    shows the perplexity in the pass's verbose line, from the driver's
    ``on_pass``); the rule then reuses it, so ``value`` runs once per
    evaluated pass.
    """

    def __init__(self, every, tol, value, on_value=None):
        self.every = int(every)
        self.tol = float(tol)
        self.value = value
        self.on_value = on_value

    def start(self):
        super().start()
        self.last = None
        self._evaluated = (None, None)

    def evaluate(self, record):
        """The value of the pass of ``record`` if the rule evaluates it, else None.

        Computed (and ``on_value`` called) once per pass: a second call for
        the same pass, such as the rule's own, returns the same value.

        Parameters
        ----------
        record : PassRecord

        Returns
        -------
        float or None
        """
        if self.every <= 0 or (record.index + 1) % self.every:
            return None
        seen, v = getattr(self, "_evaluated", (None, None))
        if seen != record.index:  # (the index, not the record: that would keep its arrays)
            v = float(self.value(record))
            self._evaluated = (record.index, v)
            if self.on_value is not None:
                self.on_value(record, v)
        return v

    def __call__(self, record):
        v = self.evaluate(record)
        if v is None:
            return CONTINUE
        # scikit-learn tests the previous value's truth, so a first value of 0 never stops
        if self.last and abs(self.last - v) < self.tol:
            return self._stop(STOP_UNCOUNTED)
        self.last = v
        return CONTINUE


class Below(StopRule):
    """Stop when ``value(record) < tol`` (e.g. the largest parameter change).

    Parameters
    ----------
    tol : float
    value : callable
        ``value(record) -> float``; spike-and-slab gives the largest change in
        the inclusion probabilities and scaled effects of the sweep.
    """

    def __init__(self, tol, value):
        self.tol = float(tol)
        self.value = value

    def __call__(self, record):
        if self.value(record) < self.tol:
            return self._stop()
        return CONTINUE
