"""Kernel backends: one interface per model, three implementations each.

``get_backend(name, model)`` returns a namespace with the kernel functions of
one model family, as documented in that family's NumPy reference module (the
oracle every compiled backend is tested against):

=============  ==================================  ==============================  ======================
model          reference (``"numpy"``)              ``"numba"``                      ``"cython"``
=============  ==================================  ==============================  ======================
``"lda"``      :mod:`fastcavi.kernels.reference`    :mod:`~.numba_lda`               ``fastcavi._ext._lda``
``"gmm"``      :mod:`fastcavi.kernels.reference_gmm`  :mod:`~.numba_gmm`            ``fastcavi._ext._gmm``
``"regression"``  :mod:`~.reference_regression`     :mod:`~.numba_regression`        ``fastcavi._ext._regression``
``"spikeslab"``   :mod:`~.reference_spikeslab`      :mod:`~.numba_spikeslab`         ``fastcavi._ext._spikeslab``
=============  ==================================  ==============================  ======================

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

The Cython extensions' vector variant is chosen at import, by the CPU or the
environment variable ``FASTCAVI_SIMD`` (see :mod:`fastcavi.kernels.simd`).
"""

import importlib
import types

from . import simd
from .partition import csc_structure, doc_chunks

BACKENDS = ("numpy", "numba", "cython")
#: model family -> module of each backend
MODELS = {
    "lda": {
        "numpy": "fastcavi.kernels.reference",
        "numba": "fastcavi.kernels.numba_lda",
        "cython": "fastcavi._ext._lda",
    },
}
for _model in ("gmm", "regression", "spikeslab"):
    MODELS[_model] = {
        "numpy": f"fastcavi.kernels.reference_{_model}",
        "numba": f"fastcavi.kernels.numba_{_model}",
        "cython": f"fastcavi._ext._{_model}",
    }
_cache = {}


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
        "spikeslab").

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
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(map(repr, MODELS))}; got {model!r}")
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
        functions = importlib.import_module(MODELS[model]["numpy"]).KERNELS
        module = importlib.import_module(MODELS[model][name])
        _cache[key] = types.SimpleNamespace(
            name=name, model=model, **{f: getattr(module, f) for f in functions}
        )
    return _cache[key]
