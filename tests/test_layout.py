"""Layout rules of issue 10: no import cycle inside fastcavi, no source file over 800 lines.

Both rules are ratchets. Today's exceptions are listed below, each with the reason
it exists; anything new fails, and so does an exception that has gone away, so
that its entry is deleted and the rule tightens for good.

The import graph is read statically from the source tree (``ast``), not from
``sys.modules``: every ``import`` / ``from ... import`` statement anywhere in a
file counts -- at module level, inside functions and under ``if`` alike -- since a
function-level import is still a dependency, only a later one. Imports built at
run time (``importlib.import_module(name)`` with a computed ``name``, as the
kernel registry in ``fastcavi/kernels/__init__.py`` does) are not seen.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "fastcavi"
MAX_LINES = 800

#: Import cycles that exist today and are to be removed. Each entry is the set of
#: modules of one cycle (a strongly connected component of the import graph).
#: Never add to this list; delete an entry once its cycle is gone.
KNOWN_CYCLES = []

#: Source files over MAX_LINES today, with their line count as a ceiling: such a
#: file may shrink but not grow, and once it is at MAX_LINES or under its entry
#: must go. (Lower a ceiling when you shrink a file; that is not enforced, so that
#: parallel edits to these files do not all collide here.) Never add to this dict.
KNOWN_LONG_FILES = {}

#: what the size rule reads: Python under fastcavi/, Cython and C under csrc/
SIZE_GLOBS = {"fastcavi": ("*.py",), "csrc": ("*.pyx", "*.pxd", "*.pxi", "*.h", "*.c")}


# --------------------------------------------------------------------------
# The import graph
# --------------------------------------------------------------------------


def package_modules(root, package=PACKAGE):
    """Map each module name of ``package`` under ``root`` to its .py file (None: compiled).

    The Cython modules ``csrc/<name>.pyx`` become ``<package>._ext.<name>`` (see
    setup.py) and are leaves of the graph.
    """
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    for pyx in sorted((root / "csrc").glob("*.pyx")):
        modules.setdefault(f"{package}._ext.{pyx.stem}", None)
    return modules


def _imported(node, name, is_package, modules):
    """The modules of ``modules`` that one import statement of module ``name`` loads."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            # `import a.b.c` loads a.b.c: the longest prefix that is one of ours
            parts = alias.name.split(".")
            for k in range(len(parts), 0, -1):
                if ".".join(parts[:k]) in modules:
                    yield ".".join(parts[:k])
                    break
        return
    if node.level:  # relative: resolve against the package this module is in
        anchor = name.split(".") if is_package else name.split(".")[:-1]
        if node.level > 1:
            anchor = anchor[: -(node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module
    for alias in node.names:
        # `from .x import y` loads x.y when y is a submodule, else x itself
        sub = f"{base}.{alias.name}"
        if sub in modules:
            yield sub
        elif base in modules:
            yield base


def import_graph(root, package=PACKAGE):
    """``{module: {imported module: line of the first such import}}`` within ``package``.

    A module's import of itself (a no-op) is left out.
    """
    modules = package_modules(root, package)
    graph = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, {})
        if path is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, name, is_package, modules):
                    if target != name:
                        edges[target] = min(edges.get(target, node.lineno), node.lineno)
    return graph, modules


def cycles(graph):
    """The strongly connected components of ``graph`` with more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def cycle_path(graph, modules, component, root, start):
    """The shortest cycle through ``start`` in ``component``, as ``a (file:line) -> b -> a``."""
    parent, queue = {start: None}, [start]
    while queue:  # breadth-first from start, back to start, inside the component
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                path = path[::-1] + [start]
                hops = [
                    f"{a} ({modules[a].relative_to(root)}:{graph[a][b]})"
                    for a, b in zip(path, path[1:])
                ]
                return " -> ".join(hops + [start])
            if w in component and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def check_cycles(root, known, package=PACKAGE):
    """The failure messages of the no-cycle ratchet ([] when it holds)."""
    graph, modules = import_graph(root, package)
    found = cycles(graph)
    known = [set(c) for c in known]
    problems = []
    for component in found:
        if component in known:
            continue
        if any(component < k for k in known):
            problems.append(
                f"a known import cycle shrank to {sorted(component)}: narrow its entry in "
                "KNOWN_CYCLES in tests/test_layout.py to these modules"
            )
            continue
        # show a cycle through a module that no known cycle has, so the new part shows
        outside = component - set().union(*known)
        path = cycle_path(graph, modules, component, root, min(outside or component))
        grown = [sorted(k) for k in known if k < component]
        problems.append(
            f"new import cycle: {path} (modules {sorted(component)}"
            + (f"; it takes in the known cycle {' and '.join(map(str, grown))}, which may "
               "not grow" if grown else "")
            + "); break it, e.g. by moving what both sides need into a module of its own"
        )
    for k in known:
        if not any(k <= c or c < k for c in found):
            problems.append(
                f"the known import cycle {sorted(k)} is gone: delete its entry from "
                "KNOWN_CYCLES in tests/test_layout.py"
            )
    return problems


# --------------------------------------------------------------------------
# File sizes
# --------------------------------------------------------------------------


def source_files(root):
    """The files the size rule reads, as ``{path relative to root (posix): line count}``."""
    counts = {}
    for folder, patterns in SIZE_GLOBS.items():
        for pattern in patterns:
            for path in (root / folder).rglob(pattern):
                if path.suffix == ".c" and path.with_suffix(".pyx").exists():
                    continue  # C written by Cython from the .pyx beside it
                counts[path.relative_to(root).as_posix()] = len(path.read_bytes().splitlines())
    return counts


def check_sizes(root, known, limit=MAX_LINES):
    """The failure messages of the file-size ratchet ([] when it holds)."""
    counts = source_files(root)
    problems = []
    for rel, n in sorted(counts.items()):
        if n <= limit:
            continue
        if rel not in known:
            problems.append(f"{rel} has {n} lines, over {limit}: split it")
        elif n > known[rel]:
            problems.append(
                f"{rel} grew to {n} lines, over its ceiling of {known[rel]} in "
                "KNOWN_LONG_FILES: it may only shrink"
            )
    for rel, ceiling in sorted(known.items()):
        if rel not in counts:
            problems.append(
                f"{rel} (KNOWN_LONG_FILES) no longer exists: delete its entry in "
                "tests/test_layout.py"
            )
        elif counts[rel] <= limit:
            problems.append(
                f"{rel} is down to {counts[rel]} lines (limit {limit}): delete its entry "
                "from KNOWN_LONG_FILES in tests/test_layout.py"
            )
    return problems


# --------------------------------------------------------------------------
# The rules, on this source tree
# --------------------------------------------------------------------------


def test_no_import_cycles_but_the_known_ones():
    problems = check_cycles(ROOT, KNOWN_CYCLES)
    assert not problems, "\n".join(problems)


def test_no_file_over_800_lines_but_the_known_ones():
    problems = check_sizes(ROOT, KNOWN_LONG_FILES)
    assert not problems, "\n".join(problems)


def test_the_graph_is_read_from_this_tree():
    graph, modules = import_graph(ROOT)
    assert modules["fastcavi.datasets"] == ROOT / "fastcavi" / "datasets" / "__init__.py"
    assert set(graph["fastcavi.datasets.newsgroups"]) == {
        "fastcavi.datasets._common", "fastcavi.datasets.matrix"}


# --------------------------------------------------------------------------
# The checkers themselves, on a made-up tree
# --------------------------------------------------------------------------


def _tree(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_graph_resolves_every_kind_of_import(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "from .a import f\nimport pkg.sub.b\n",
        "pkg/a.py": "import os\nfrom pkg import a\n\ndef f():\n    from ._ext import _k\n",
        "pkg/_ext/__init__.py": "",
        "pkg/sub/__init__.py": "from . import b\n",
        "pkg/sub/b.py": "from .. import a\nfrom ..a import f\nfrom .c import CONST\n",
        "pkg/sub/c.py": "if True:\n    from pkg.sub import b as _b, nothing\n",
        "csrc/_k.pyx": "",
    })
    graph, modules = import_graph(root, "pkg")
    assert modules["pkg._ext._k"] is None and graph["pkg._ext._k"] == {}
    assert graph["pkg"] == {"pkg.a": 1, "pkg.sub.b": 2}  # `import pkg.sub.b` loads pkg.sub.b
    assert graph["pkg.a"] == {"pkg._ext._k": 5}  # function level; the self-import is left out
    assert graph["pkg.sub"] == {"pkg.sub.b": 1}  # `from . import b`: the submodule
    # `from .. import a` and `from ..a import f` (line 1 kept), `from .c import CONST`
    assert graph["pkg.sub.b"] == {"pkg.a": 1, "pkg.sub.c": 3}
    # under `if`; `nothing` is not a submodule, so it stands for the package pkg.sub
    assert graph["pkg.sub.c"] == {"pkg.sub.b": 2, "pkg.sub": 2}


def test_checker_reports_new_and_vanished_cycles(tmp_path):
    root = _tree(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "def f():\n    from .sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "from .. import a\n",  # pkg.a -> pkg.sub.b -> pkg.a
        "pkg/c.py": "import pkg.d\n",
        "pkg/d.py": "from pkg import c\n",  # pkg.c -> pkg.d -> pkg.c
    })
    known = [{"pkg.c", "pkg.d"}, {"pkg.x", "pkg.y"}]
    problems = check_cycles(root, known, package="pkg")
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        "new import cycle: pkg.a (pkg/a.py:2) -> pkg.sub.b (pkg/sub/b.py:1) -> pkg.a"
    )
    assert "['pkg.x', 'pkg.y'] is gone" in problems[1]
    assert check_cycles(root, [{"pkg.a", "pkg.sub.b"}, {"pkg.c", "pkg.d"}], "pkg") == []
    # a known cycle that takes in one more module: the path shown goes through it
    (root / "pkg" / "e.py").write_text("from . import c\n", encoding="utf-8")
    (root / "pkg" / "d.py").write_text("from pkg import c, e\n", encoding="utf-8")
    problems = check_cycles(root, [{"pkg.a", "pkg.sub.b"}, {"pkg.c", "pkg.d"}], "pkg")
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        "new import cycle: pkg.e (pkg/e.py:1) -> pkg.c (pkg/c.py:1) -> pkg.d (pkg/d.py:1) -> pkg.e"
    )
    assert "takes in the known cycle ['pkg.c', 'pkg.d'], which may not grow" in problems[0]
    # ... and one that shrinks must be narrowed
    problems = check_cycles(root, [{"pkg.a", "pkg.sub.b", "pkg.z"}, {"pkg.c", "pkg.d", "pkg.e"}],
                            "pkg")
    assert problems == ["a known import cycle shrank to ['pkg.a', 'pkg.sub.b']: narrow its entry "
                        "in KNOWN_CYCLES in tests/test_layout.py to these modules"]


def test_checker_reports_long_files_growth_and_stale_entries(tmp_path):
    root = _tree(tmp_path, {
        "fastcavi/new.py": "x = 1\n" * 801,
        "fastcavi/grew.py": "x = 1\n" * 901,
        "fastcavi/shrank.py": "x = 1\n" * 850,
        "fastcavi/fixed.py": "x = 1\n" * 800,
        "csrc/_k.pyx": "pass\n" * 10,
        "csrc/_k.c": "/* generated */\n" * 5000,  # Cython output: not counted
        "csrc/include/k.h": "int x;\n" * 900,
    })
    known = {"fastcavi/grew.py": 900, "fastcavi/shrank.py": 860, "fastcavi/fixed.py": 810,
             "fastcavi/gone.py": 1000}
    problems = check_sizes(root, known)
    assert problems == [
        "csrc/include/k.h has 900 lines, over 800: split it",
        "fastcavi/grew.py grew to 901 lines, over its ceiling of 900 in KNOWN_LONG_FILES: "
        "it may only shrink",
        "fastcavi/new.py has 801 lines, over 800: split it",
        "fastcavi/fixed.py is down to 800 lines (limit 800): delete its entry from "
        "KNOWN_LONG_FILES in tests/test_layout.py",
        "fastcavi/gone.py (KNOWN_LONG_FILES) no longer exists: delete its entry in "
        "tests/test_layout.py",
    ]


# --------------------------------------------------------------------------
# Optional extras stay optional (issue 11: Dask)
# --------------------------------------------------------------------------

#: modules of the optional extras, and the one fastcavi module that may import them
OPTIONAL = {"dask": "fastcavi.engine.dask_driver", "distributed": "fastcavi.engine.dask_driver"}


def module_level_imports(path):
    """``(top-level name, line)`` of every import executed when ``path`` is imported.

    Statements at module level, also under ``if``/``try``/``with`` there; not
    those inside functions or classes' methods (run only when called).
    """
    found = []

    def walk(body):
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((a.name, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.append(("." * node.level + (node.module or ""), node.lineno))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    walk(getattr(node, field, []) or [])

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def test_no_module_imports_dask_or_the_dask_driver_at_module_level():
    _, modules = import_graph(ROOT)
    bad = []
    for name, path in modules.items():
        if path is None:
            continue
        for imported, line in module_level_imports(path):
            top = imported.split(".")[0]
            if top in OPTIONAL or "dask_driver" in imported:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not bad, "optional Dask imported at module level:\n" + "\n".join(bad)
    # and the driver itself imports it only inside functions
    graph, _ = import_graph(ROOT)
    assert "fastcavi.engine.dask_driver" in graph
