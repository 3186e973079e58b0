"""Run scikit-learn's own test modules against fastcavi's drop-in estimators.

``load_upstream`` copies a test module of the installed scikit-learn into a
temporary directory, rewrites the one import line of the estimator so that it
imports fastcavi's class instead, imports the copy and returns its namespace.
A test module of fastcavi does ``globals().update(load_upstream(...))``, so
pytest collects every upstream test (parametrisations, marks and module-level
fixtures included) as one of fastcavi's own, one result per test, with
tracebacks into the copy.

The rewrite fails loudly rather than quietly testing scikit-learn against
itself: the import line must occur exactly once, no other import of the class
from scikit-learn may remain, and the imported module's name must be
fastcavi's class. Tests named in ``xfail`` must exist upstream and are marked
``xfail(strict=True)``, so one that starts passing fails the run.

Upstream test modules use two fixtures of ``sklearn/conftest.py``; loading
that conftest would also load its collection hooks into fastcavi's session,
so the two are defined here (:func:`global_dtype` runs float32 as well, which
scikit-learn's own run skips by default: fastcavi keeps float32 data in
float32) and the stub imports them with the rest of the namespace.
"""

import ast
import atexit
import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

__all__ = ["load_upstream", "global_dtype", "global_random_seed"]


@pytest.fixture(params=[np.float32, np.float64])
def global_dtype(request):
    """scikit-learn's ``global_dtype`` fixture, float32 included."""
    return request.param


@pytest.fixture(params=[42])
def global_random_seed(request):
    """scikit-learn's ``global_random_seed`` fixture at its default seed."""
    return request.param


_COPIES = None


def _copies_dir():
    global _COPIES
    if _COPIES is None:
        _COPIES = Path(tempfile.mkdtemp(prefix="fastcavi-sklearn-tests-"))
        atexit.register(shutil.rmtree, _COPIES, ignore_errors=True)
    return _COPIES


def _sklearn_imports_of(source, name):
    """Line numbers of imports that bind ``name`` from a scikit-learn module."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sklearn":
            if any((a.asname or a.name) == name for a in node.names):
                lines.append(node.lineno)
    return lines


def load_upstream(relpath, cls, upstream_import, xfail=(), root=None):
    """Namespace of one scikit-learn test module, run against another class.

    Parameters
    ----------
    relpath : str
        Path of the test module inside the installed ``sklearn`` package, e.g.
        ``"decomposition/tests/test_online_lda.py"``.
    cls : type
        The class the upstream tests must exercise; its ``__name__`` is the name
        they use and ``cls.__module__``'s package is what it is imported from.
    upstream_import : str
        The import line to replace, verbatim (e.g.
        ``"from sklearn.decomposition import LatentDirichletAllocation"``); it is
        replaced by ``from <package of cls> import <name>``.
    xfail : dict of str to str
        Test function name -> reason; each is marked
        ``xfail(strict=True, raises=AttributeError)`` (a private method that
        fastcavi does not have).
    root : path-like, optional
        Folder that ``relpath`` is in; default: the installed ``sklearn`` package.

    Returns
    -------
    namespace : dict
        The imported copy's names (dunders excepted) plus the two fixtures above.

    Skips the calling module (``allow_module_level``) when the installed
    scikit-learn has no tests folder; raises RuntimeError when the rewrite does
    not apply, which pytest reports as a collection error.
    """
    import sklearn

    upstream = Path(root if root is not None else Path(sklearn.__file__).parent) / relpath
    if not upstream.exists():
        pytest.skip(f"the installed scikit-learn {sklearn.__version__} has no {relpath} "
                    "(its tests folder is not installed)", allow_module_level=True)
    name = cls.__name__
    package = cls.__module__.split(".")[0]
    source = upstream.read_text(encoding="utf-8")
    pattern = re.compile(r"^" + re.escape(upstream_import) + r"[ \t]*$", re.MULTILINE)
    source, n = pattern.subn(f"from {package} import {name}", source)
    if n != 1:
        raise RuntimeError(f"{upstream}: expected the line {upstream_import!r} once, found it "
                           f"{n} times; update the rewrite in {Path(__file__).name}")
    left = _sklearn_imports_of(source, name)
    if left:
        raise RuntimeError(f"{upstream}: {name} is still imported from scikit-learn at "
                           f"line(s) {left} after the rewrite")
    if re.search(r"\bsklearn\.[\w.]*\." + re.escape(name) + r"\b", source):
        raise RuntimeError(f"{upstream}: refers to scikit-learn's {name} by attribute")

    copy = _copies_dir() / f"sklearn_{upstream.name}"
    # the note goes last so that line numbers stay those of the upstream file
    copy.write_text(source + f"\n# copy of {upstream}, {name} imported from {package}\n",
                    encoding="utf-8")
    modname = f"sklearn_upstream_{upstream.stem}"
    spec = importlib.util.spec_from_file_location(modname, copy)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    if getattr(module, name) is not cls:
        raise RuntimeError(f"{copy}: {name} is {getattr(module, name)!r}, not {cls!r}")

    for test, reason in dict(xfail).items():
        func = getattr(module, test, None)
        if func is None:
            raise RuntimeError(f"{upstream} has no test {test!r}; remove it from the xfail list")
        setattr(module, test, pytest.mark.xfail(reason=reason, strict=True,
                                                raises=AttributeError)(func))
    namespace = {k: v for k, v in vars(module).items() if not k.startswith("__")}
    namespace.update(global_dtype=global_dtype, global_random_seed=global_random_seed)
    return namespace
