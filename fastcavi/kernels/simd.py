"""``FASTCAVI_SIMD``: which vector variant the Cython kernels run.

The Cython extensions compile their vector code several times and pick one
variant when they are imported. The environment variable ``FASTCAVI_SIMD``
(read here and nowhere else, when an extension is first imported) overrides
that choice for every model family at once:

=============  ===========================================================
value          meaning
=============  ===========================================================
unset / empty  the widest variant the CPU supports (the default)
``scalar``     no vector code: plain C with libm's special functions
``generic``    16-byte vectors (the baseline every CPU runs)
``avx2``       at most AVX2 (32-byte vectors)
``avx512``     at most AVX-512 (64-byte vectors)
=============  ===========================================================

A value is a ceiling: each family uses its widest variant that is not wider
than the value, and its narrowest when it has none that narrow. The families
have these variants (narrowest first):

- ``"lda"``: scalar, generic, avx2, avx512;
- ``"gmm"``: generic, avx2, avx512 (so ``scalar`` runs ``generic``);
- ``"spikeslab"``: generic, avx2, avx512 (so ``scalar`` runs ``generic``);
- ``"regression"``: none (its kernels call BLAS; the value is checked, then ignored).

Every family numbers its variants alike and detects the CPU the same way
(``csrc/include/fc_cpu.h``: ``avx2`` needs the CPU's avx2 flag, ``avx512``
avx2, avx512f and avx512dq). An extension's ``simd_variant()`` reports the
variant in use and ``simd_variants()`` those the CPU can run. The vector variants of a family
return the same bits; ``scalar`` differs from them by rounding in the special
functions only.

A value the CPU cannot run (``avx512`` on a CPU without AVX-512) falls back to
the widest variant below it that the CPU runs, with a :class:`RuntimeWarning`:
the setting is a tuning knob, and a script or CI job that sets it keeps
working on an older machine. Any other value is an error, raised by
:func:`requested` with the variable's name and the choices, when
:func:`fastcavi.kernels.get_backend` is asked for the Cython backend (or
"auto"), before an extension is imported.
"""

import os
import warnings

__all__ = ["ENV", "VARIANTS", "requested", "choose"]

#: the environment variable
ENV = "FASTCAVI_SIMD"
#: every variant name, narrowest first
VARIANTS = ("scalar", "generic", "avx2", "avx512")


def requested():
    """The variant ``FASTCAVI_SIMD`` asks for, or None when it is unset or empty.

    Returns
    -------
    name : str or None
        One of :data:`VARIANTS` (the value, stripped and lower-cased).

    Raises
    ------
    ValueError
        If the value is not one of :data:`VARIANTS`; the message names the
        variable, the value and the choices.
    """
    raw = os.environ.get(ENV, "")
    value = raw.strip().lower()
    if not value:
        return None
    if value not in VARIANTS:
        raise ValueError(
            f"environment variable {ENV}={raw!r} is not a SIMD variant: use one of "
            f"{', '.join(VARIANTS)}, or leave it unset for the widest the CPU supports"
        )
    return value


def choose(family, built, usable):
    """The variant an extension selects at import, following ``FASTCAVI_SIMD``.

    Parameters
    ----------
    family : str
        Model family, for the warning ("lda", "gmm", "spikeslab").
    built : sequence of str
        The family's variants, narrowest first (a subsequence of :data:`VARIANTS`).
    usable : sequence of str
        Those of ``built`` that this CPU runs, narrowest first.

    Returns
    -------
    name : str or None
        The widest usable variant when the variable is unset; else the
        family's closest variant to the value (see the module docstring),
        lowered to the widest usable one below it, with a RuntimeWarning, if the
        CPU cannot run it. None when ``usable`` is empty.

    Raises
    ------
    ValueError
        An unknown value (see :func:`requested`).
    """
    want = requested()
    if not usable:
        return None
    if want is None:
        return usable[-1]
    rank = VARIANTS.index
    target = ([v for v in built if rank(v) <= rank(want)] or [built[0]])[-1]
    if target in usable:
        return target
    below = [v for v in usable if rank(v) < rank(target)] or [usable[0]]
    warnings.warn(
        f"{ENV}={want}: this CPU cannot run the {target} variant of the {family} kernels; "
        f"using {below[-1]}",
        RuntimeWarning,
        stacklevel=2,
    )
    return below[-1]
