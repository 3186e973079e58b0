"""FASTCAVI_SIMD: one reader (fastcavi.kernels.simd), honoured the same way by every family.

Each value is tried in a fresh interpreter (the extensions read it once, at
import), for every model family, and the variant each extension reports is
the documented one; an unknown value fails in ``get_backend`` with the
variable's name and the choices, not inside an extension's import.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_backend

import fastcavi
from fastcavi.kernels import simd

FAMILIES = ("lda", "gmm", "regression", "spikeslab")
#: the variant each family runs for each value, on a CPU that has them all
#: (the table of fastcavi/kernels/simd.py's docstring); None: no variants
EXPECTED = {
    "scalar": {"lda": "scalar", "gmm": "generic", "spikeslab": "generic"},
    "generic": {"lda": "generic", "gmm": "generic", "spikeslab": "generic"},
    "avx2": {"lda": "avx2", "gmm": "avx2", "spikeslab": "avx2"},
    "avx512": {"lda": "avx512", "gmm": "avx512", "spikeslab": "avx512"},
}
BUILT = {"lda": ("scalar", "generic", "avx2", "avx512"), "gmm": ("generic", "avx2", "avx512"),
         "spikeslab": ("generic", "avx2", "avx512")}


def extension(family):
    require_backend("cython", family)
    return importlib.import_module(f"fastcavi._ext._{family}")


@pytest.fixture(scope="module")
def usable():
    """The variants this CPU runs, per family (the extensions' own ``simd_variants``)."""
    return {family: extension(family).simd_variants() for family in BUILT}


def test_expected_tables_cover_every_variant(usable):
    assert set(EXPECTED) == set(simd.VARIANTS)
    for family, built in BUILT.items():
        assert tuple(extension(family)._SIMD_LEVELS) == built, family
        assert usable[family] and set(usable[family]) <= set(built), family


# ------------------------------------------------------------ the rule itself
@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_means_the_widest_usable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(simd.ENV, raising=False)
    else:
        monkeypatch.setenv(simd.ENV, value)
    assert simd.requested() is None
    assert simd.choose("lda", BUILT["lda"], ["scalar", "generic", "avx2"]) == "avx2"


@pytest.mark.filterwarnings("error")  # a family's own substitution is silent
@pytest.mark.parametrize("value", simd.VARIANTS)
@pytest.mark.parametrize("family", sorted(BUILT))
def test_each_value_picks_the_familys_closest_variant(monkeypatch, family, value):
    monkeypatch.setenv(simd.ENV, f" {value.upper()} ")  # case and spaces do not matter
    assert simd.choose(family, BUILT[family], BUILT[family]) == EXPECTED[value][family]


@pytest.mark.parametrize("family, value, usable, fallback", [
    ("lda", "avx512", ["scalar", "generic", "avx2"], "avx2"),
    ("lda", "avx2", ["scalar", "generic"], "generic"),
    ("gmm", "avx512", ["generic"], "generic"),
    ("spikeslab", "avx512", ["generic", "avx2"], "avx2"),
])
def test_a_variant_the_cpu_lacks_falls_back_with_a_warning(monkeypatch, family, value, usable,
                                                           fallback):
    monkeypatch.setenv(simd.ENV, value)
    with pytest.warns(RuntimeWarning, match=f"FASTCAVI_SIMD={value}: this CPU cannot run "
                                            f"the .* variant of the {family} kernels; "
                                            f"using {fallback}"):
        assert simd.choose(family, BUILT[family], usable) == fallback


def test_an_unknown_value_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(simd.ENV, "sse4")
    with pytest.raises(ValueError, match="FASTCAVI_SIMD='sse4' is not a SIMD variant: use one of "
                                         "scalar, generic, avx2, avx512, or leave it unset"):
        simd.requested()


# ------------------------------------------------------- in fresh interpreters
PROBE = r"""
import importlib, json, sys, warnings
warnings.simplefilter("always")
from fastcavi.kernels import get_backend
report = {}
for family in sys.argv[1:]:
    with warnings.catch_warnings(record=True) as caught:
        try:
            backend = get_backend("auto", family)
        except Exception as exc:
            import traceback
            report[family] = {"error": f"{type(exc).__name__}: {exc}", "frames": [
                f.filename for f in traceback.extract_tb(exc.__traceback__)]}
            continue
        ext = importlib.import_module(f"fastcavi._ext._{family}")
        report[family] = {"backend": backend.name,
                          "variant": getattr(ext, "simd_variant", lambda: None)(),
                          "warnings": [str(w.message) for w in caught]}
print(json.dumps(report))
"""


UNKNOWN = "avx1024"


def start_probe(value):
    """Import every family's backend in a new interpreter with FASTCAVI_SIMD=value (None: unset)."""
    env = dict(os.environ)
    env.pop(simd.ENV, None)
    if value is not None:
        env[simd.ENV] = value
    root = str(Path(fastcavi.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.Popen([sys.executable, "-c", PROBE, *FAMILIES], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def reports(usable):
    """The probe's report for each value, the interpreters run side by side (they mostly import)."""
    values = [None, *simd.VARIANTS, UNKNOWN]
    procs = [start_probe(v) for v in values]
    out = {}
    for value, proc in zip(values, procs):
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{simd.ENV}={value}: {stderr}"
        out[value] = json.loads(stdout.splitlines()[-1])
    return out


@pytest.mark.parametrize("value", [None, *simd.VARIANTS])
def test_every_family_runs_the_documented_variant(usable, reports, value):
    report = reports[value]
    assert report["regression"] == {"backend": "cython", "variant": None, "warnings": []}
    for family in BUILT:
        want = usable[family][-1] if value is None else EXPECTED[value][family]
        warned = want not in usable[family]
        if warned:  # this CPU lacks it: the widest usable one below
            want = [v for v in usable[family] if BUILT[family].index(v)
                    < BUILT[family].index(want)][-1]
        got = report[family]
        assert got["backend"] == "cython" and got["variant"] == want, (family, got)
        assert len(got["warnings"]) == warned, (family, got)


def test_an_unknown_value_fails_in_get_backend_for_every_family(reports):
    for family in FAMILIES:
        got = reports[UNKNOWN][family]
        assert got["error"].startswith(f"ValueError: environment variable FASTCAVI_SIMD='{UNKNOWN}' "
                                       "is not a SIMD variant: use one of scalar, generic, avx2, "
                                       "avx512"), (family, got)
        # raised by the check in get_backend, not by an extension being imported
        assert Path(got["frames"][-1]) == Path(simd.__file__), (family, got)
        assert not any("importlib" in f for f in got["frames"]), (family, got)
