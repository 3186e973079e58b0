"""Shared fixtures: the compiled kernel backends, failing loudly when missing."""

import os

import numpy as np
import pytest

from fastcavi.kernels import available_backends, get_backend

#: backends compared against the NumPy reference
FAST_BACKENDS = ("numba", "cython")
#: every backend, whether or not it imports here: a test parametrised over these
#: gets each through require_backend, which fails (rather than narrowing the
#: list, as available_backends() would) when one that should be built is missing
BACKENDS = ("numpy",) + FAST_BACKENDS


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


# --------------------------------------------------------------------------
# SIMD variants of the Cython kernels
# --------------------------------------------------------------------------

#: every SIMD variant of each Cython model family, with the x86 CPU features it
#: needs (as /proc/cpuinfo spells them; the checks the extensions make at
#: import). The vector math of fastcavi._ext._lda (digamma, exp, lgamma) is
#: the "lda" family's. fastcavi._ext._regression has no variants (it calls BLAS).
SIMD_VARIANTS = {
    "lda": {"scalar": (), "generic": (), "avx2": ("avx2",),
            "avx512": ("avx2", "avx512f", "avx512dq")},
    "gmm": {"generic": (), "avx2": ("avx2",), "avx512": ("avx2", "avx512f", "avx512dq")},
    "spikeslab": {"generic": (), "avx2": ("avx2",), "avx512": ("avx2", "avx512f", "avx512dq")},
}


def cpu_flags():
    """The CPU's feature flags: a set of names, or None where they cannot be read."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return set()  # no x86 features at all
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def simd_module(family):
    """The compiled module of one family (fails, or skips, as require_backend does)."""
    import importlib

    require_backend("cython", family)
    return importlib.import_module(f"fastcavi._ext._{family}")


def require_simd(family, variant):
    """Skip, naming the variant and the missing features, when this CPU cannot run it.

    The decision comes from the CPU's flags, not from the extension, so an
    extension that refuses a variant the CPU has fails the test instead of
    skipping it. (Where the flags cannot be read, the extension's own check
    decides.)
    """
    needed = SIMD_VARIANTS[family][variant]
    flags = cpu_flags()
    if flags is None:
        ext = simd_module(family)
        try:
            previous = ext._set_simd(variant)
        except ValueError:
            pytest.skip(f"{family} SIMD variant {variant!r}: the extension reports this CPU "
                        "cannot run it (its feature flags are not readable here)")
        ext._set_simd(previous)
        return
    missing = [f for f in needed if f not in flags]
    if missing:
        pytest.skip(f"{family} SIMD variant {variant!r} needs {', '.join(missing)}, "
                    "which this CPU lacks")


def with_simd(family, variant, fn):
    """``fn()`` run with one SIMD variant selected, then the previous one restored.

    Skips (see :func:`require_simd`) when the CPU lacks the variant; an
    extension that refuses a variant the CPU has raises ValueError.
    """
    require_simd(family, variant)
    ext = simd_module(family)
    previous = ext._set_simd(variant)
    try:
        assert ext.simd_variant() == variant
        return fn()
    finally:
        ext._set_simd(previous)


# --------------------------------------------------------------------------
# The project's shared data (../shared/data beside the clone)
# --------------------------------------------------------------------------

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def shared_data(*parts):
    """Path of the project's shared data folder, or of ``parts`` inside it.

    The folder is ``FASTCAVI_SHARED_DATA`` if set, else ``<repo root>/../shared/data``.
    When the path does not exist the test is skipped, with the place looked at
    as the reason; it fails instead when ``FASTCAVI_REQUIRE_SHARED_DATA`` is
    set (.ci/run sets both when the data is there, so CI cannot skip these).
    """
    from pathlib import Path

    base = os.environ.get("FASTCAVI_SHARED_DATA")
    path = (Path(base) if base else REPO_ROOT.parent / "shared" / "data").joinpath(*parts)
    if not path.exists():
        where = ("FASTCAVI_SHARED_DATA" if base else "<repo root>/../shared/data")
        msg = f"shared data not found at {path} (from {where})"
        if os.environ.get("FASTCAVI_REQUIRE_SHARED_DATA"):
            pytest.fail(f"{msg}, and FASTCAVI_REQUIRE_SHARED_DATA is set")
        pytest.skip(f"{msg}; set FASTCAVI_SHARED_DATA to run this test")
    return path


@pytest.fixture(scope="session")
def newsgroups_dir():
    """The shared 20 Newsgroups counts folder (skips, or fails, as shared_data does)."""
    return shared_data("20newsgroups")


# --------------------------------------------------------------------------
# Thread invariance (n_jobs)
# --------------------------------------------------------------------------

#: the n_jobs values of the thread-invariance tests (-1: every core)
N_JOBS = (1, 2, -1)


def fitted_state(estimator):
    """``vars(estimator)`` without its constructor parameters: all that fit computed."""
    params = estimator.get_params(deep=False)
    return {k: v for k, v in vars(estimator).items() if k not in params}


def require_threads(name, model):
    """:func:`require_backend`, and a skip if this backend cannot run two threads here.

    With one thread for every ``n_jobs`` a thread-invariance test compares a
    computation with itself, so it is skipped, saying why: Numba runs at most
    ``NUMBA_NUM_THREADS`` threads, and a Cython extension built without
    OpenMP runs its ``prange`` loops serially.
    """
    backend = require_backend(name, model)
    if name == "numba":
        import numba

        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip(f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}: Numba cannot "
                        "run two threads, so n_jobs would not change the computation")
    elif name == "cython":
        import importlib

        ext = importlib.import_module(f"fastcavi._ext._{model}")
        if not ext.OPENMP_ENABLED:
            pytest.skip(f"fastcavi._ext._{model} was built without OpenMP (serial prange)")
    return backend
