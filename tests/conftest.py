"""Shared fixtures: the compiled kernel backends, failing loudly when missing."""

import os

import numpy as np
import pytest

from fastcavi.kernels import available_backends, get_backend

#: backends compared against the NumPy reference
FAST_BACKENDS = ("numba", "cython")


def require_backend(name, model="lda"):
    """The backend namespace of one model family, or a test failure if it is not installed.

    A missing Cython extension fails the test (CI must build it) unless the
    environment variable FASTCAVI_ALLOW_MISSING_CYTHON is set, then it skips.
    """
    if name not in available_backends(model):
        if name == "cython" and os.environ.get("FASTCAVI_ALLOW_MISSING_CYTHON"):
            pytest.skip("Cython extension not built (FASTCAVI_ALLOW_MISSING_CYTHON is set)")
        pytest.fail(
            f"kernel backend {name!r} of {model!r} is not available; build it with "
            "`pip install --no-build-isolation -e .` (or set "
            "FASTCAVI_ALLOW_MISSING_CYTHON=1 to skip the Cython cases)"
        )
    return get_backend(name, model)


@pytest.fixture(scope="session", params=FAST_BACKENDS)
def fast_backend(request):
    """Each compiled backend in turn."""
    return require_backend(request.param)


@pytest.fixture(scope="session")
def cython_ext():
    """The compiled module ``fastcavi._ext._lda``."""
    require_backend("cython")
    import fastcavi._ext._lda as ext

    return ext


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


def snapshot_state(estimator):
    """A deep copy of ``vars(estimator)``, to compare after a failed fit."""
    import copy

    return copy.deepcopy(vars(estimator))


def assert_state_equal(before, after, path="vars()"):
    """Assert two attribute snapshots are equal, recursing into containers.

    Arrays must be bit-identical (``assert_array_equal``, same dtype and shape);
    tuples, lists and dicts are compared element by element, so a tuple of
    arrays such as ``weight_concentration_`` is checked too.
    """
    if isinstance(before, dict):
        assert isinstance(after, dict), f"{path}: dict became {type(after).__name__}"
        assert set(before) == set(after), (
            f"{path}: keys differ: added {sorted(set(after) - set(before))}, "
            f"removed {sorted(set(before) - set(after))}")
        for k in before:
            assert_state_equal(before[k], after[k], f"{path}[{k!r}]")
    elif isinstance(before, (list, tuple)):
        assert type(before) is type(after), f"{path}: {type(before).__name__} became {type(after).__name__}"
        assert len(before) == len(after), f"{path}: length {len(before)} became {len(after)}"
        for i, (a, b) in enumerate(zip(before, after)):
            assert_state_equal(a, b, f"{path}[{i}]")
    elif isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray), f"{path}: array became {type(after).__name__}"
        assert before.dtype == after.dtype, f"{path}: dtype {before.dtype} became {after.dtype}"
        np.testing.assert_array_equal(after, before, err_msg=path)
    elif isinstance(before, np.random.RandomState):
        assert_state_equal(before.get_state(legacy=False), after.get_state(legacy=False), path)
    elif isinstance(before, np.random.Generator):
        assert_state_equal(before.bit_generator.state, after.bit_generator.state, path)
    elif isinstance(before, float) and before != before:
        assert isinstance(after, float) and after != after, f"{path}: NaN became {after!r}"
    elif hasattr(before, "__dict__") and not isinstance(before, type) and type(before).__eq__ is object.__eq__:
        assert type(before) is type(after), f"{path}: {type(before).__name__} became {type(after).__name__}"
        assert_state_equal(vars(before), vars(after), f"{path}.__dict__")
    else:
        assert before == after, f"{path}: {before!r} became {after!r}"
