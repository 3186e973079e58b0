"""Kernel backends: one interface per model family, three implementations each.

``get_backend(name, model)`` returns a namespace with the kernel functions of
one model family, as documented in that family's NumPy reference module (the
oracle every compiled backend is tested against). The Python kernels live in
their family's package, which registers them here with :func:`register_family`
(:data:`MODELS` holds the full paths, e.g. ``fastcavi.lda.lda_reference``); the
``"cython"`` backend of a model ``<m>`` is ``fastcavi._ext._<m>``, compiled from
``csrc/_<m>.pyx``:

================  ============================  =========================  =====================
model             family package                ``"numpy"`` module         ``"numba"`` module
================  ============================  =========================  =====================
``"lda"``         :mod:`fastcavi.lda`           ``.lda_reference``         ``.lda_numba``
``"gmm"``         :mod:`fastcavi.mixture`       ``.gmm_reference``         ``.gmm_numba``
``"regression"``  :mod:`fastcavi.linear_model`  ``.regression_reference``  ``.regression_numba``
``"spikeslab"``   :mod:`fastcavi.linear_model`  ``.spikeslab_reference``   ``.spikeslab_numba``
================  ============================  =========================  =====================

Each reference module lists its kernel names in a tuple ``KERNELS``; the
numba and cython modules define functions of the same names and signatures.
For LDA these are:

- ``exp_dirichlet_expectation_T(lam, eta, out, compute_bound, n_threads)``
- ``lda_e_step(data, indices, indptr, exp_topic_word, alpha, gamma, max_iter,
  mean_change_tol, eps, exp_doc_topic, ratio, doc_bound, n_threads)``
- ``lda_suff_stats(csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic,
  exp_topic_word, out, n_threads)``

Backends: ``"numpy"`` (reference), ``"numba"`` (``@njit(parallel=True)``) and
``"cython"`` (compiled from ``csrc/`` with OpenMP where the compiler has it).
``"auto"`` picks the fastest one that is available. Every backend writes each
item's results into its own slots and reduces in a fixed order, so results
are bit-identical for a fixed backend whatever the number of threads.

Registration. A family registers the *paths* of its three modules, which are
imported on first use (so fastcavi imports without Numba and without the
compiled extensions). This package imports no family: the families import it.
That is enough because Python imports the ``fastcavi`` package before any of
its submodules, and ``fastcavi/__init__.py`` imports every family package
(``fastcavi.lda``, ``fastcavi.mixture``, ``fastcavi.linear_model``), each of
which registers itself in its ``_kernels.py``; so even a fresh
``from fastcavi.kernels import get_backend`` finds every family. Registering a
name again with the same modules does nothing (a family package may be
reloaded); with other modules it is an error, so one name never means two sets
of kernels.

Beside the registry: :mod:`~fastcavi.kernels.partition` (work partitioning,
re-exported here), :mod:`~fastcavi.kernels.special` (special functions for
nopython code), :mod:`~fastcavi.kernels.numba_support` (what every family's
Numba kernels share) and :mod:`~fastcavi.kernels.simd`: the Cython
extensions' vector variant is chosen at import, by the CPU or the environment
variable ``FASTCAVI_SIMD``.
"""

import importlib
import types

from . import simd
from .partition import csc_structure, doc_chunks

__all__ = ["BACKENDS", "MODELS", "register_family", "get_backend", "available_backends",
           "doc_chunks", "csc_structure"]

BACKENDS = ("numpy", "numba", "cython")
_families = {}
#: model family -> {backend: module path}, in registration order; read-only (see
#: :func:`register_family`)
MODELS = types.MappingProxyType(_families)
_cache = {}


def register_family(name, *, numpy, numba, cython):
    """Register the kernel modules of one model family.

    The modules are named, not imported: :func:`get_backend` imports one the
    first time it is asked for that backend.

    Parameters
    ----------
    name : str
        The family's name, as passed to :func:`get_backend` (``model=``).
    numpy : str
        Dotted path of the NumPy reference module. It defines the tuple
        ``KERNELS`` of the family's kernel names and a function for each.
    numba : str
        Dotted path of the Numba module, defining the same functions.
    cython : str
        Dotted path of the compiled extension, defining the same functions.

    Returns
    -------
    modules : mapping
        The read-only ``{backend: module path}`` now in :data:`MODELS`.

    Raises
    ------
    TypeError
        If ``name`` or a module path is not a non-empty string.
    ValueError
        If ``name`` is "auto" or a backend's name, or is already registered
        with other modules (registering the same modules again does nothing).
    """
    modules = {"numpy": numpy, "numba": numba, "cython": cython}
    for what, value in [("name", name), *modules.items()]:
        if not isinstance(value, str) or not value:
            raise TypeError(f"{what} must be a non-empty string; got {value!r}")
    if name == "auto" or name in BACKENDS:
        raise ValueError(f"{name!r} names a backend, not a model family")
    known = _families.get(name)
    if known is not None:
        if dict(known) != modules:
            raise ValueError(
                f"model family {name!r} is already registered with modules {dict(known)}; "
                f"got {modules}"
            )
        return known
    _families[name] = types.MappingProxyType(modules)
    return _families[name]


def available_backends(model="lda"):
    """Names of the kernel backends that can be used on this installation.

    Parameters
    ----------
    model : str, default="lda"
        Model family, a key of :data:`MODELS`.

    Returns
    -------
    names : list of str
        A subset of ``("numpy", "numba", "cython")``, in that order. "cython"
        is missing when the compiled extension was not built, "numba" when
        Numba cannot be imported.

    Raises
    ------
    ValueError
        If ``model`` is not a known model family.
    """
    names = []
    for name in BACKENDS:
        try:
            get_backend(name, model)
        except ImportError:
            continue
        names.append(name)
    return names


def get_backend(name="auto", model="lda"):
    """The kernel namespace of one backend for one model family.

    Parameters
    ----------
    name : {"auto", "numba", "cython", "numpy"}, default="auto"
        "auto" prefers "cython", then "numba", then "numpy".
    model : str, default="lda"
        Model family, a key of :data:`MODELS` ("lda", "gmm", "regression",
        "spikeslab", or one added by :func:`register_family`).

    Returns
    -------
    backend : types.SimpleNamespace
        With attributes ``name``, ``model`` and the kernel functions listed in
        the reference module's ``KERNELS``.

    Raises
    ------
    ValueError
        If ``name`` or ``model`` is not one of the names above, or, for
        "cython" and "auto", if ``FASTCAVI_SIMD`` is set to an unknown variant
        (:func:`fastcavi.kernels.simd.requested`).
    ImportError
        If the requested backend is not available (for example the Cython
        extension was not compiled).
    AttributeError
        If the backend's module lacks a kernel that the reference's
        ``KERNELS`` lists.
    """
    if model not in MODELS:
        raise ValueError(
            f"model must be one of {', '.join(map(repr, MODELS))} (the families registered "
            f"by importing fastcavi, see register_family); got {model!r}"
        )
    if name in ("auto", "cython"):
        simd.requested()  # an unknown FASTCAVI_SIMD fails here, not inside an extension's import
    if name == "auto":
        for candidate in ("cython", "numba"):
            try:
                return get_backend(candidate, model)
            except ImportError:
                continue
        return get_backend("numpy", model)
    if name not in BACKENDS:
        raise ValueError(
            f"backend must be one of 'auto', {', '.join(map(repr, BACKENDS))}; got {name!r}"
        )
    key = (name, model)
    if key not in _cache:
        paths = MODELS[model]
        functions = importlib.import_module(paths["numpy"]).KERNELS
        module = importlib.import_module(paths[name])
        missing = [f for f in functions if not hasattr(module, f)]
        if missing:  # a broken backend is an error, not an unavailable one (ImportError)
            raise AttributeError(
                f"{paths[name]} lacks the kernels {missing} that {paths['numpy']}.KERNELS lists"
            )
        _cache[key] = types.SimpleNamespace(
            name=name, model=model, **{f: getattr(module, f) for f in functions}
        )
    return _cache[key]
