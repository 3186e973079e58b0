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
