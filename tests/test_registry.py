"""The kernel registry: families register themselves, and every backend has the reference's kernels.

Rules checked here:

- importing fastcavi (which any ``import fastcavi.kernels`` does first) registers
  every family, although the registry imports none of them;
- every registered family's Numba and Cython modules define each kernel that its
  reference's ``KERNELS`` lists, with the reference's signature;
- an unknown family is a ValueError naming the known ones;
- a family name is registered once: again with the same modules is a no-op,
  with other modules a ValueError;
- registering imports nothing; a backend's module is imported when first asked
  for, and a module that lacks a kernel is an error, not a missing backend;
- a kernel module's old path under fastcavi/kernels/ survives only as long as
  a Cython source in csrc/ imports it, and forwards the family module's objects.
"""

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import FAST_BACKENDS, require_backend
from test_layout import ROOT, import_graph

import fastcavi.kernels as kernels
from fastcavi.kernels import MODELS, available_backends, get_backend, register_family

#: the families fastcavi registers, in the order fastcavi/__init__.py imports them
FAMILIES = ("lda", "gmm", "regression", "spikeslab")
#: the family packages, which the registry must not import
FAMILY_PACKAGES = ("fastcavi.lda", "fastcavi.mixture", "fastcavi.linear_model")
#: where each family's Python kernels live: <package>.<family>_reference and _numba
HOMES = {"lda": "fastcavi.lda", "gmm": "fastcavi.mixture",
         "regression": "fastcavi.linear_model", "spikeslab": "fastcavi.linear_model"}


def test_importing_fastcavi_registers_every_family():
    assert tuple(MODELS) == FAMILIES


def test_a_fresh_interpreter_finds_every_family_through_the_registry_alone():
    """``from fastcavi.kernels import ...`` first imports fastcavi, hence every family."""
    code = textwrap.dedent("""
        import json
        from fastcavi.kernels import MODELS, get_backend
        print(json.dumps({"families": list(MODELS), "lda": get_backend("numpy", "lda").name}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True)
    got = json.loads(out.stdout)
    assert got["families"] == list(FAMILIES)
    assert got["lda"] == "numpy"


def test_the_registry_imports_no_family():
    """Statically, function-level imports included: the families import the registry."""
    graph, _ = import_graph(ROOT)
    for module in ("fastcavi.kernels", "fastcavi.kernels.partition", "fastcavi.kernels.simd",
                   "fastcavi.kernels.special", "fastcavi.kernels.numba_support"):
        bad = [m for m in graph[module]
               if any(m == p or m.startswith(p + ".") for p in FAMILY_PACKAGES)]
        assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_keeps_its_python_kernels_in_its_own_package(family):
    assert dict(MODELS[family]) == {"numpy": f"{HOMES[family]}.{family}_reference",
                                    "numba": f"{HOMES[family]}.{family}_numba",
                                    "cython": f"fastcavi._ext._{family}"}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_backend_defines_the_reference_kernels_with_its_signatures(family):
    reference = importlib.import_module(MODELS[family]["numpy"])
    names = reference.KERNELS
    assert isinstance(names, tuple) and names and len(set(names)) == len(names)
    for backend in FAST_BACKENDS:
        namespace = require_backend(backend, family)
        module = importlib.import_module(MODELS[family][backend])
        assert set(vars(namespace)) == {"name", "model", *names}
        assert (namespace.name, namespace.model) == (backend, family)
        for name in names:
            want = inspect.signature(getattr(reference, name))
            fn = getattr(module, name)
            assert getattr(namespace, name) is fn
            assert inspect.signature(fn) == want, f"{backend} {family}.{name}"


@pytest.mark.parametrize("call", [lambda: get_backend("numpy", "nope"),
                                  lambda: get_backend("auto", "nope"),
                                  lambda: available_backends("nope")])
def test_an_unknown_family_is_a_value_error_naming_the_known_ones(call):
    with pytest.raises(ValueError, match="got 'nope'") as info:
        call()
    for family in FAMILIES:
        assert repr(family) in str(info.value)


def test_models_is_read_only():
    with pytest.raises(TypeError):
        MODELS["lda"] = {}
    with pytest.raises(TypeError):
        MODELS["lda"]["numpy"] = "elsewhere"


# --------------------------------------------------------------------------
# Registering, on a made-up family
# --------------------------------------------------------------------------

REFERENCE = """
KERNELS = ("scale",)

def scale(x, out, factor=2.0, n_threads=1):
    out[...] = factor * x
"""


@pytest.fixture
def family(tmp_path, monkeypatch):
    """A made-up family's name and its modules' (unique) package, removed afterwards."""
    name = f"made_up_{tmp_path.name}"
    package = f"fake_{tmp_path.name}".replace("-", "_")
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "ref.py").write_text(REFERENCE)
    (tmp_path / package / "fast.py").write_text(REFERENCE.replace("KERNELS", "_UNUSED"))
    (tmp_path / package / "broken.py").write_text("def other(): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, package
    kernels._families.pop(name, None)
    for key in [k for k in kernels._cache if k[1] == name]:
        del kernels._cache[key]
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]


def test_registering_imports_nothing_and_backends_load_on_first_use(family):
    name, package = family
    entry = register_family(name, numpy=f"{package}.ref", numba=f"{package}.fast",
                            cython=f"{package}.not_built")
    assert dict(entry) == {"numpy": f"{package}.ref", "numba": f"{package}.fast",
                           "cython": f"{package}.not_built"}
    assert MODELS[name] is entry and tuple(MODELS)[-1] == name
    assert package not in sys.modules
    assert available_backends(name) == ["numpy", "numba"]  # no cython module: not available
    with pytest.raises(ImportError):
        get_backend("cython", name)
    auto = get_backend("auto", name)
    assert auto.name == "numba" and auto is get_backend("numba", name)  # cached
    assert auto.scale is sys.modules[f"{package}.fast"].scale
    assert get_backend("numpy", name).scale is sys.modules[f"{package}.ref"].scale


def test_a_backend_that_lacks_a_kernel_is_an_error_not_a_missing_backend(family):
    name, package = family
    register_family(name, numpy=f"{package}.ref", numba=f"{package}.broken",
                    cython=f"{package}.not_built")
    with pytest.raises(AttributeError, match=rf"{package}\.broken lacks the kernels \['scale'\]"):
        get_backend("numba", name)
    with pytest.raises(AttributeError):
        available_backends(name)


def test_a_family_is_registered_once(family):
    name, package = family
    modules = {"numpy": f"{package}.ref", "numba": f"{package}.fast", "cython": "x._ext._y"}
    first = register_family(name, **modules)
    assert register_family(name, **modules) is first  # the same modules again: a no-op
    before = list(MODELS)
    with pytest.raises(ValueError, match=rf"model family '{name}' is already registered"):
        register_family(name, **{**modules, "numba": f"{package}.broken"})
    assert list(MODELS) == before and dict(MODELS[name]) == modules
    # a registered family of fastcavi cannot be taken over either
    with pytest.raises(ValueError, match="'lda' is already registered"):
        register_family("lda", **modules)
    assert MODELS["lda"]["numpy"] != modules["numpy"]


@pytest.mark.parametrize("kwargs, error", [
    ({"name": "auto"}, ValueError),
    ({"name": "numba"}, ValueError),
    ({"name": ""}, TypeError),
    ({"numba": None}, TypeError),
    ({"cython": ""}, TypeError),
])
def test_register_family_rejects_bad_arguments(kwargs, error):
    args = {"name": "never_registered", "numpy": "a.ref", "numba": "a.fast", "cython": "a.ext"}
    args.update(kwargs)
    with pytest.raises(error):
        register_family(args.pop("name"), **args)
    assert "never_registered" not in MODELS and "auto" not in MODELS
