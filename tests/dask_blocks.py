"""Blocks the Dask driver's tests open on the workers (module-level, so that they pickle).

Each item is small (a seed and a row count, or a file path): the block itself
is made on the worker, as a shard would be read there.
"""

import os

import numpy as np

from fastcavi.linear_model.gaussian import RowBlock

D = 4
COEF = np.array([1.0, -2.0, 0.5, 0.0])


def toy_block(item):
    """Block of the engine toy (univariate Gaussian): item = (seed, n)."""
    seed, n = item[:2]
    return np.random.default_rng(seed).normal(2.0, 0.5, n)


def linear_block(item):
    """A RowBlock of a linear regression: item = (seed, n)."""
    seed, n = item[:2]
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n, D)))
    y = X @ COEF + 0.3 + 0.2 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return RowBlock(X, y, w)


def logistic_block(item):
    """A RowBlock of a logistic regression, labels in {-1, +1}: item = (seed, n)."""
    seed, n = item[:2]
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n, D)))
    y = np.where(X @ COEF + 0.7 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return RowBlock(X, y, np.ones(n))


def dying_block(item):
    """``open_block`` of item = (seed, n, marker, inner): ``os._exit(1)`` the first time.

    The first call to find no file at ``marker`` creates it and kills its
    worker process; every later call opens the block with ``inner`` ("toy" or
    "linear").
    """
    seed, n, marker, inner = item
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return (toy_block if inner == "toy" else linear_block)((seed, n))
    os.close(fd)
    os._exit(1)
