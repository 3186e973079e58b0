"""fastcavi's engine: the model protocol, the drivers, stop rules, the monitor.

Every estimator validates input, builds a model (:class:`Model`), calls a
driver (:func:`run_cavi` for ``fit``, :func:`run_svi` for ``partial_fit``)
and publishes the result inside one fit transaction
(:func:`fastcavi._base.fit_transaction`). See ``../shared/DESIGN.md``.

- :mod:`.protocol`: :class:`Model`, additive :class:`Stats`;
- :mod:`.drivers`: :func:`run_cavi`, :func:`run_svi`, :class:`RobbinsMonro`;
- :mod:`.sources`: block sources (:class:`Streamed`: blocks opened one at a
  time, e.g. shards on disk) and local-state stores (:class:`DiscardLocals`,
  :class:`SpillLocals`);
- :mod:`.stopping`: the stop rules;
- :mod:`.monitor`: :class:`PassMonitor` (tqdm bar, verbose lines, timing);
- :mod:`.schedules`: :func:`robbins_monro_rate`;
- :mod:`.restarts`: :func:`best_of` (``n_init``);
- :mod:`.parallel`: :func:`map_threads` (independent fits on threads: a grid);
- :mod:`.threads`: :func:`effective_threads`, :func:`limit_blas`;
- :mod:`.reduce`: the fixed summation tree over block ids (:func:`tree_sum`,
  :class:`TreeSum`, :func:`tree_pass`, a ``local_pass`` for :func:`run_cavi`);
- :mod:`.dask_driver` (not imported here: it needs the optional Dask):
  :func:`~fastcavi.engine.dask_driver.run_cavi_dask`.
"""

from .drivers import Cancelled, FitResult, PassRecord, Resume, RobbinsMonro, run_cavi, run_svi
from .monitor import PassMonitor
from .parallel import map_threads
from .protocol import Model, Stats
from .reduce import TreeSum, pair_levels, tree_pass, tree_sum
from .restarts import best_of
from .schedules import robbins_monro_rate
from .sources import DiscardLocals, SpillLocals, Streamed, as_source
from .stopping import (CONTINUE, STOP, STOP_UNCOUNTED, Below, Change, ElboGain, EvaluateEvery,
                       Never, OnePass, StopRule)
from .threads import effective_threads, limit_blas

__all__ = [
    "Model", "Stats", "run_cavi", "run_svi", "RobbinsMonro", "PassRecord", "FitResult",
    "StopRule", "ElboGain", "Change", "EvaluateEvery", "Below", "OnePass", "Never",
    "CONTINUE", "STOP", "STOP_UNCOUNTED",
    "PassMonitor", "robbins_monro_rate", "effective_threads", "limit_blas",
    "best_of", "map_threads", "Cancelled",
    "Streamed", "as_source", "DiscardLocals", "SpillLocals",
    "Resume", "pair_levels", "tree_sum", "TreeSum", "tree_pass",
]
