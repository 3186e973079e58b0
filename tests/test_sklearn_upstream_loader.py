"""``sklearn_upstream.load_upstream`` refuses to test scikit-learn against itself.

A changed upstream import must stop the run (a collection error in the
modules that use it), never leave scikit-learn's class under test.
"""

import pytest
from sklearn_upstream import load_upstream

from fastcavi import LatentDirichletAllocation

IMPORT = "from sklearn.decomposition import LatentDirichletAllocation"
TEST = "\n\ndef test_uses_it():\n    assert LatentDirichletAllocation.__module__ == 'fastcavi.lda'\n"


def load(tmp_path, source, **kw):
    (tmp_path / "test_mod.py").write_text(source)
    return load_upstream("test_mod.py", LatentDirichletAllocation, IMPORT, root=tmp_path, **kw)


def test_the_import_is_switched(tmp_path):
    ns = load(tmp_path, IMPORT + TEST, xfail={"test_uses_it": "a reason"})
    assert ns["LatentDirichletAllocation"] is LatentDirichletAllocation
    (mark,) = ns["test_uses_it"].pytestmark
    assert mark.name == "xfail" and mark.kwargs["strict"] and mark.kwargs["reason"] == "a reason"


@pytest.mark.parametrize("source, match", [
    ("from sklearn.decomposition import (\n    LatentDirichletAllocation,\n)" + TEST,
     "found it 0 times"),
    (IMPORT + "\n" + IMPORT + TEST, "found it 2 times"),
    (IMPORT + "\nfrom sklearn.decomposition._lda import LatentDirichletAllocation" + TEST,
     r"still imported from scikit-learn at line\(s\) \[2\]"),
    (IMPORT + "\nimport sklearn\nX = sklearn.decomposition.LatentDirichletAllocation" + TEST,
     "by attribute"),
])
def test_a_changed_upstream_import_fails_loudly(tmp_path, source, match):
    with pytest.raises(RuntimeError, match=match):
        load(tmp_path, source)


def test_an_xfail_of_a_vanished_test_fails_loudly(tmp_path):
    with pytest.raises(RuntimeError, match="no test 'test_gone'"):
        load(tmp_path, IMPORT + TEST, xfail={"test_gone": "a reason"})


def test_no_tests_folder_skips_with_the_reason(tmp_path):
    with pytest.raises(pytest.skip.Exception, match="has no test_mod.py"):
        load_upstream("test_mod.py", LatentDirichletAllocation, IMPORT, root=tmp_path)
