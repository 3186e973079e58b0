"""``fastcavi shard`` and ``fastcavi lda SHARDS`` (fastcavi.cli.shard, fastcavi.cli.lda).

``fastcavi lda`` on a shard folder holds out the same documents and reports the
same results as on the input it was written from; bad input is one line on
stderr, exit status 2 and nothing written; an interrupt leaves nothing.
"""

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from fastcavi.datasets import ShardedCorpus, ShardWriter, load_corpus
from test_cli import assert_clean, read_outputs, run_cli, small_counts, write_npz, write_vocab


def write_uci(folder, X, name="t"):
    C = sp.coo_matrix(X)
    lines = [str(X.shape[0]), str(X.shape[1]), str(C.nnz)]
    lines += [f"{i + 1} {j + 1} {int(v)}" for i, j, v in zip(C.row, C.col, C.data)]
    path = folder / f"docword.{name}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_vocab(folder, X.shape[1], name=f"vocab.{name}.txt")
    return path


def one_error_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastcavi: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_shard_uci_npz_mtx_and_text_folder(tmp_path):
    X = small_counts(n_docs=45)
    inputs = {"uci": [write_uci(tmp_path, X)],
              "npz": [write_npz(tmp_path, X), "--vocab", write_vocab(tmp_path, X.shape[1])],
              "mtx": [tmp_path / "x.mtx"]}
    scipy.io.mmwrite(tmp_path / "x.mtx", X)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, t in enumerate(["the apples and the pears", "pears and apples", "a rocket",
                           "rockets and the moon"]):
        (docs / f"d{i}.txt").write_text(t, encoding="utf-8")
    inputs["text"] = [docs]
    for name, args in inputs.items():
        out = tmp_path / f"{name}-shards"
        status, stdout, stderr = run_cli(["shard", *args, out, "--shard-docs", "10"])
        assert status == 0, stderr
        assert "wrote" in stdout and str(out) in stdout
        c = ShardedCorpus(out)
        kw = {"stop_words": "english"} if name == "text" else {}
        ref = load_corpus(args[0], vocab_path=args[2] if len(args) > 2 else None, **kw)
        assert (c.to_csr() != ref.X).nnz == 0 and list(c.vocabulary) == list(ref.vocabulary)
        assert "the" not in list(c.vocabulary) or name != "text"
    assert [len(ShardedCorpus(tmp_path / "uci-shards").shards)] == [5]


@pytest.mark.parametrize("method", ["batch", "online"])
def test_lda_on_shards_reports_what_lda_on_the_input_does(tmp_path, method):
    X = small_counts(n_docs=60)
    uci = write_uci(tmp_path, X)
    status, _, stderr = run_cli(["shard", uci, tmp_path / "shards", "--shard-docs", "16"])
    assert status == 0, stderr
    common = ["-k", "3", "--max-iter", "4", "--learning-method", method, "--batch-size", "16",
              "--n-jobs", "1", "--random-state", "2", "-q"]
    status, out_mem, stderr = run_cli(["lda", uci, *common, "-o", tmp_path / "mem"])
    assert status == 0, stderr
    status, out_sh, stderr = run_cli(["lda", tmp_path / "shards", *common, "-o",
                                      tmp_path / "sh"])
    assert status == 0, stderr
    assert "sharded corpus, 4 shards" in out_sh
    mem, sh = read_outputs(tmp_path / "mem"), read_outputs(tmp_path / "sh")
    assert sh["summary"]["corpus"]["test_documents"] == mem["summary"]["corpus"][
        "test_documents"]
    assert sh["ids"] == mem["ids"] and sh["vocab"] == mem["vocab"]
    results = [r["summary"]["results"] for r in (sh, mem)]
    if method == "online":  # minibatches are cut inside shards: another fit, as good
        assert sh["lam"].shape == mem["lam"].shape
        ratio = results[0]["heldout_perplexity"] / results[1]["heldout_perplexity"]
        assert 0.8 < ratio < 1.25, results
    else:
        np.testing.assert_allclose(sh["lam"], mem["lam"], rtol=1e-9)
        for key in ("heldout_perplexity", "training_perplexity", "elbo"):
            np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-9)
        np.testing.assert_allclose(sh["theta"], mem["theta"], rtol=1e-7, atol=1e-8)
        assert sh["topics"] == mem["topics"]
    assert sh["summary"]["corpus"]["n_train_tokens"] == mem["summary"]["corpus"][
        "n_train_tokens"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _unsorted_uci(d):
    path = d / "docword.u.txt"
    path.write_text("3\n4\n3\n1 1 1\n3 2 1\n2 1 1\n", encoding="utf-8")
    write_vocab(d, 4, name="vocab.u.txt")
    return [path, d / "out"]


def _existing_out(d):
    (d / "out").mkdir()
    return [write_npz(d, small_counts()), d / "out"]


SHARD_BAD = {
    "unsorted documents": (_unsorted_uci, "line 6: docID 2 comes after docID 3 (line 5)"),
    "existing output": (_existing_out, "already exists"),
    "missing input": (lambda d: [d / "nope.npz", d / "out"], "not found"),
    "min-df for a file": (lambda d: [write_npz(d, small_counts()), d / "out", "--min-df", "2"],
                          "apply to a folder of .txt files"),
    "bad min-df": (lambda d: [d, d / "out", "--min-df", "1.5"], "--min-df"),
    "bad shard-docs": (lambda d: [d, d / "out", "--shard-docs", "0"], "--shard-docs"),
}


@pytest.mark.parametrize("case", sorted(SHARD_BAD))
def test_shard_bad_input(tmp_path, case):
    make, fragment = SHARD_BAD[case]
    data = tmp_path / "data"
    data.mkdir()
    args = make(data)
    status, _, stderr = run_cli(["shard", *args])
    assert status == 2
    assert fragment in one_error_line(stderr)
    if case != "existing output":
        assert not (data / "out").exists()
    assert [p.name for p in data.iterdir() if p.name.startswith(".")] == []


def test_shard_interrupted_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(self, n_docs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ShardWriter, "_flush", interrupted)
    status, _, stderr = run_cli(["shard", write_npz(tmp_path, small_counts()), tmp_path / "out"])
    assert status == 130 and stderr.splitlines() == ["fastcavi: interrupted"]
    assert_clean(tmp_path, tmp_path / "out")


def test_lda_on_a_changed_or_mismatched_shard_folder(tmp_path):
    status, _, stderr = run_cli(["shard", write_npz(tmp_path, small_counts()), tmp_path / "s",
                                 "--shard-docs", "8"])
    assert status == 0, stderr
    status, _, stderr = run_cli(["lda", tmp_path / "s", "--vocab", write_vocab(tmp_path, 30),
                                 "-q", "-o", tmp_path / "out"])
    assert status == 2 and "--vocab does not apply" in one_error_line(stderr)
    path = ShardedCorpus(tmp_path / "s").shards[2].folder / "data.npy"
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 4
    path.write_bytes(bytes(raw))
    status, _, stderr = run_cli(["lda", tmp_path / "s", "-k", "2", "--max-iter", "1", "-q",
                                 "-o", tmp_path / "out"])
    assert status == 2 and "checksum mismatch" in one_error_line(stderr)
    assert_clean(tmp_path, tmp_path / "out")
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": 1', '"version": 7'))
    status, _, stderr = run_cli(["lda", tmp_path / "s", "-q", "-o", tmp_path / "out"])
    assert status == 2 and "format version 7" in one_error_line(stderr)


def test_help_lists_shard():
    status, stdout, _ = run_cli(["--help"])
    assert status == 0 and "shard" in stdout
    status, stdout, _ = run_cli(["shard", "--help"])
    assert status == 0 and "--shard-docs" in stdout
