"""Sharded corpora (fastcavi.datasets.shards and the writers): round trips, bad input, interrupts.

Every writer's corpus is the one the in-memory loader gives from the same input,
row for row; bad input gets one line naming the file (and the line) and leaves
nothing behind; an interrupt at any point leaves nothing behind either.
"""

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from fastcavi.datasets import (CorpusError, Shard, ShardedCorpus, ShardWriter, load_corpus,
                               load_text_folder, shard_corpus, shard_count_matrix, shard_csr,
                               shard_text_folder, shard_uci_bow)
from fastcavi.datasets import shard_writer
from fastcavi.datasets.shards import FORMAT_VERSION


def counts(n_docs=37, n_words=23, seed=0):
    """Whole-number counts with empty documents (3, 4, last) and an unused word (7)."""
    rs = np.random.RandomState(seed)
    X = rs.poisson(0.5, size=(n_docs, n_words)).astype(np.float64)
    X[[3, 4, n_docs - 1]] = 0.0
    X[:, 7] = 0.0
    return sp.csr_matrix(X)


def write_uci(folder, X, name="t", gz=False, header=None, lines=None):
    """docword.<name>.txt[.gz] of X (entries row by row, words descending: any order is fine)."""
    folder = Path(folder)
    if lines is None:
        C = X.tocsr()
        lines = [f"{d + 1} {w + 1} {int(C[d, w])}" for d in range(C.shape[0])
                 for w in sorted(C[d].indices, reverse=True)]
    head = header or [str(X.shape[0]), str(X.shape[1]), str(len(lines))]
    text = "\n".join(head + lines) + "\n"
    path = folder / (f"docword.{name}.txt" + (".gz" if gz else ""))
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    (folder / f"vocab.{name}.txt").write_text("".join(f"term{j}\n" for j in range(X.shape[1])),
                                              encoding="utf-8")
    return path


def assert_nothing_written(folder, out):
    assert not Path(out).exists()
    assert [p.name for p in Path(folder).iterdir() if p.name.startswith(".")] == []


def assert_same(corpus, X, vocabulary):
    assert isinstance(corpus, ShardedCorpus)
    Y = corpus.to_csr()
    assert Y.shape == X.shape == corpus.shape
    assert Y.has_canonical_format
    np.testing.assert_array_equal(Y.indptr, X.indptr)
    np.testing.assert_array_equal(Y.indices, X.indices)
    np.testing.assert_array_equal(Y.data, X.data)
    assert list(corpus.vocabulary) == list(vocabulary)
    assert corpus.nnz == X.nnz and corpus.n_tokens == X.sum()


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_csr_round_trip_and_format(tmp_path, dtype):
    X = counts()
    vocab = [f"w{j}é" for j in range(X.shape[1])]
    ids = [f"doc{i}" for i in range(X.shape[0])]
    c = shard_csr(X, tmp_path / "c", vocabulary=vocab, documents=ids, shard_docs=8, dtype=dtype)
    assert c.dtype == np.dtype(dtype) and c.integer_counts
    assert_same(c, X.astype(dtype), vocab)
    assert c.documents == ids
    assert [(s.start, s.stop) for s in c.shards] == [(0, 8), (8, 16), (16, 24), (24, 32),
                                                     (32, 37)]
    data, indices, indptr = c.shards[1].arrays()
    assert isinstance(data, np.memmap) and not data.flags.writeable  # memory-mapped, read-only
    assert data.dtype == np.dtype(dtype) and indices.dtype == indptr.dtype == np.int32
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["version"] == FORMAT_VERSION and m["dtype"] == dtype
    assert (m["n_documents"], m["n_words"], m["nnz"], m["n_tokens"]) == (
        37, 23, X.nnz, float(X.sum()))
    assert all(e["sha256"].startswith("sha256:") and "nnz" in e for e in m["shards"])
    # a shard is opened from its path anywhere: it pickles as paths and its manifest entry
    s = pickle.loads(pickle.dumps(c.shards[2]))
    assert (s.open() != X[16:24].astype(dtype)).nnz == 0


def test_views_select_rows_and_convert(tmp_path):
    X = counts()
    c = shard_csr(X, tmp_path / "c", shard_docs=10, documents=[str(i) for i in range(37)])
    rows = [36, 0, 5, 12, 12, 33]
    v = c.view(rows, dtype="float32")
    assert v.is_view and v.n_documents == 5 and v.dtype == np.float32
    Y = v.to_csr()
    assert Y.dtype == np.float32 and (Y != X[[0, 5, 12, 33, 36]]).nnz == 0
    assert v.n_tokens == X[[0, 5, 12, 33, 36]].sum() and v.nnz == X[[0, 5, 12, 33, 36]].nnz
    assert v.documents == ["0", "5", "12", "33", "36"]
    assert len(v.shards) == 3  # the shard without selected rows is left out
    w = v.view([1, 3])  # a view of a view
    assert (w.to_csr() != X[[5, 33]]).nnz == 0 and w.documents == ["5", "33"]
    with pytest.raises(CorpusError, match="rows must lie in 0..36"):
        c.view([37])


def test_npz_and_dispatch_round_trip(tmp_path):
    X = counts()
    sp.save_npz(tmp_path / "x.npz", X)
    (tmp_path / "v.txt").write_text("".join(f"v{j}\n" for j in range(23)), encoding="utf-8")
    c = shard_corpus(tmp_path / "x.npz", tmp_path / "c", tmp_path / "v.txt", shard_docs=5)
    ref = load_corpus(tmp_path / "x.npz", vocab_path=tmp_path / "v.txt")
    assert_same(c, ref.X, ref.vocabulary)


@pytest.mark.parametrize("gz", [False, True])
def test_uci_round_trip_in_small_chunks(tmp_path, gz):
    X = counts()
    lines = []
    for d in range(X.shape[0]):  # words in any order within a document; a zero count kept out
        row = X[d].tocoo()
        lines += [f"{d + 1} {w + 1} {int(v)}" for w, v in zip(row.col[::-1], row.data[::-1])]
    lines.insert(5, f"{lines[4].split()[0]} 8 0")  # an explicit zero for the unused word
    path = write_uci(tmp_path, X, gz=gz, lines=lines)
    ref = load_corpus(path)
    for chunk in (1, 40, 10**6):  # a document split over chunks, and the whole body at once
        c = shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / f"c{chunk}", shard_docs=6,
                          chunk_bytes=chunk)
        assert_same(c, ref.X, ref.vocabulary)


@pytest.mark.parametrize("kind", ["uci", "mtx"])
def test_the_body_is_parsed_in_chunks_never_whole(tmp_path, monkeypatch, kind):
    X = counts(n_docs=300)
    if kind == "uci":
        path = write_uci(tmp_path, X)
        run = lambda: shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "c",  # noqa
                                    chunk_bytes=200)
    else:
        path = tmp_path / "x.mtx"
        scipy.io.mmwrite(path, X)
        run = lambda: shard_count_matrix(path, tmp_path / "c", chunk_bytes=200)  # noqa
    real, sizes = np.loadtxt, []

    def spy(lines, *args, **kwargs):
        sizes.append(len(lines))
        return real(lines, *args, **kwargs)

    monkeypatch.setattr(np, "loadtxt", spy)
    c = run()
    assert sum(sizes) == X.nnz and len(sizes) > 20 and max(sizes) <= 40  # 200 bytes of lines
    assert (c.to_csr() != X).nnz == 0


def test_uci_trailing_and_inner_empty_documents(tmp_path):
    X = counts()
    X = sp.vstack([X, sp.csr_matrix((4, 23))], format="csr")  # D says 41; the last 5 are empty
    path = write_uci(tmp_path, X)
    c = shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "c", shard_docs=16,
                      chunk_bytes=64)
    assert c.n_documents == 41 and [s.stop for s in c.shards] == [16, 32, 41]
    assert_same(c, load_corpus(path).X, load_corpus(path).vocabulary)


@pytest.mark.parametrize("kind", ["integer", "real", "pattern", "gz", "array"])
def test_matrix_market_round_trip(tmp_path, kind):
    X = counts()
    if kind == "real":
        X = X.copy()
        X.data = X.data * 0.75  # fractional counts are fine in a real matrix
    if kind == "pattern":
        X = X.copy()
        X.data[:] = 1.0
    path = tmp_path / ("x.mtx.gz" if kind == "gz" else "x.mtx")
    target = path if kind != "gz" else tmp_path / "x.mtx"
    if kind == "array":
        scipy.io.mmwrite(target, X.toarray())
    else:
        scipy.io.mmwrite(target, X, field={"real": "real", "pattern": "pattern"}.get(kind,
                                                                                    "integer"))
    if kind == "gz":
        with open(target, "rb") as f, gzip.open(path, "wb") as g:
            g.write(f.read())
    c = shard_count_matrix(path, tmp_path / "c", shard_docs=7, chunk_bytes=50)
    ref = load_corpus(path)
    assert_same(c, ref.X, ref.vocabulary)
    assert c.integer_counts == (kind != "real")


def test_text_folder_round_trip(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = ["the cat sat on the mat", "a dog and a cat", "the dog barked at the mailman",
             "cats and dogs", "", "mat mat mat cat", "the end of the story of the dog"]
    for i, t in enumerate(texts):
        (docs / f"d{i:02d}.txt").write_text(t, encoding="utf-8")
    (docs / "notes.md").write_text("not a document", encoding="utf-8")
    for kw in ({}, {"stop_words": "english"}, {"min_df": 2, "max_df": 0.5},
               {"min_df": 0.2, "binary": True}, {"vocabulary": ["mat", "cat", "zebra"]},
               {"ngram_range": (1, 2), "stop_words": "english"}):
        out = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        c = shard_text_folder(docs, out, shard_docs=3, **kw)
        ref = load_text_folder(docs, **kw)
        assert_same(c, ref.X, ref.vocabulary)
        assert c.documents == ref.documents
    with pytest.raises(TypeError, match="max_features"):
        shard_text_folder(docs, tmp_path / "x", max_features=3)
    with pytest.raises(CorpusError, match="no terms remain"):
        shard_text_folder(docs, tmp_path / "x", min_df=7)
    assert_nothing_written(tmp_path, tmp_path / "x")


# --------------------------------------------------------------------------
# Bad input: one line naming the file and the line; nothing written
# --------------------------------------------------------------------------

UCI_CASES = {
    # name: (body lines after the header, header or None, expected message)
    "unsorted documents": (["1 1 2", "3 2 1", "2 5 1"], None,
                           r"line 6: docID 2 comes after docID 3 \(line 5\): the entries must "
                           "be sorted"),
    "a document again": (["1 1 2", "2 2 1", "1 5 1"], None,
                         r"line 6: docID 1 comes after docID 2 \(line 5\)"),
    "duplicate entry": (["1 1 2", "2 3 1", "2 5 1", "2 3 4"], None,
                        r"line 7: wordID 3 appears twice in docID 2 \(lines 5 and 7\)"),
    "word out of range": (["1 1 2", "2 24 1"], None, r"line 5: wordID 24 is out of range 1..23"),
    "document out of range": (["1 1 2", "38 2 1"], None,
                              r"line 5: docID 38 is out of range 1..37"),
    "negative count": (["1 1 2", "2 2 -1"], None, r"line 5: negative count -1"),
    "non-integer count": (["1 1 2", "2 2 1.5"], None, r"line 5: count '1.5' is not an integer"),
    "truncated line": (["1 1 2", "2 2"], None, r"line 5 has 2 fields, expected 3"),
    "fewer lines than the header": (["1 1 2", "2 2 1"], ["37", "23", "3"],
                                    r"the header says there are 3 entries but the file has 2 "
                                    r"\(is it truncated\?\)"),
    "more lines than the header": (["1 1 2", "2 2 1", "3 3 1"], ["37", "23", "2"],
                                   r"line 6: the header says there are 2 entries, and this is "
                                   "entry 3"),
    "bad header": (["1 1 2"], ["37", "x", "1"], r"bad header, line 2 should be W"),
}


@pytest.mark.parametrize("case", sorted(UCI_CASES))
@pytest.mark.parametrize("chunk", [1, 1 << 20])
def test_bad_uci_input(tmp_path, case, chunk):
    lines, header, message = UCI_CASES[case]
    path = write_uci(tmp_path, counts(), header=header, lines=lines)
    with pytest.raises(CorpusError, match=message) as info:
        shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "out", shard_docs=1,
                      chunk_bytes=chunk)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    assert_nothing_written(tmp_path, tmp_path / "out")


def test_truncated_gzip_and_wrong_vocabulary(tmp_path):
    X = counts(n_docs=400)
    path = write_uci(tmp_path, X, gz=True)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorpusError, match=r"truncated \(the compressed stream ends early\)"):
        shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "out", chunk_bytes=256)
    assert_nothing_written(tmp_path, tmp_path / "out")
    write_uci(tmp_path, X)
    (tmp_path / "vocab.t.txt").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"vocabulary file .*vocab.t.txt has 2 terms but the "
                                          "counts have 23 words"):
        shard_corpus(tmp_path / "docword.t.txt", tmp_path / "out")
    assert_nothing_written(tmp_path, tmp_path / "out")


MTX_CASES = {
    "unsorted rows": ("integer", ["3 3 3", "2 1 1", "1 2 1"], r"line 4: row 1 comes after row 2"),
    "non-integer count": ("integer", ["3 3 3", "1 1 1", "2 2 0.5", "3 1 1"],
                          r"line 4: value '0.5' is not an integer"),
    "negative count": ("real", ["3 3 2", "1 1 1.5", "2 2 -0.5"], r"line 4: negative count -0.5"),
    "column out of range": ("real", ["3 3 1", "1 4 1"], r"line 3: column 4 is out of range 1..3"),
    "fractional row": ("real", ["3 3 1", "1.5 1 1"], r"line 3: row 1.5 is not an integer"),
    "size disagrees": ("integer", ["3 3 2", "1 1 1"], r"the header says there are 2 entries but "
                                                      "the file has 1"),
    "bad size line": ("integer", ["3 3"], r"line 2: the size line should be"),
    "complex": ("complex", ["3 3 1", "1 1 1 0"], r"counts must be real numbers"),
}


@pytest.mark.parametrize("case", sorted(MTX_CASES))
def test_bad_matrix_market_input(tmp_path, case):
    field, lines, message = MTX_CASES[case]
    path = tmp_path / "x.mtx"
    path.write_text("\n".join([f"%%MatrixMarket matrix coordinate {field} general"] + lines)
                    + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as info:
        shard_count_matrix(path, tmp_path / "out", chunk_bytes=8)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert_nothing_written(tmp_path, tmp_path / "out")


def test_bad_banner_and_bad_csr_counts(tmp_path):
    path = tmp_path / "x.mtx"
    path.write_text("3 3 1\n1 1 1\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="line 1 is not a Matrix Market banner"):
        shard_count_matrix(path, tmp_path / "out")
    X = counts().toarray()
    X[20, 4] = -2.0
    with pytest.raises(CorpusError, match="X: negative count -2 at document 20, word 4"):
        shard_csr(X, tmp_path / "out", shard_docs=3)
    X[20, 4] = np.nan
    with pytest.raises(CorpusError, match="non-finite count nan at document 20, word 4"):
        shard_csr(X, tmp_path / "out", shard_docs=3)
    with pytest.raises(CorpusError, match="vocabulary term 1 contains a line break"):
        shard_csr(counts()[:, :2], tmp_path / "out", vocabulary=["a", "b\nc"])
    with pytest.raises(CorpusError, match="empty corpus"):
        shard_csr(sp.csr_matrix((4, 3)), tmp_path / "out")
    assert_nothing_written(tmp_path, tmp_path / "out")


def test_existing_destination_is_left_alone(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="already exists"):
        shard_csr(counts(), tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        shard_csr(counts(), tmp_path / "no" / "out")


@pytest.fixture
def corpus(tmp_path):
    return shard_csr(counts(), tmp_path / "c", shard_docs=10)


def test_checksum_mismatch_in_a_shard(corpus):
    path = corpus.shards[2].folder / "data.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    reopened = ShardedCorpus(corpus.path)  # opening reads no count ...
    reopened.shards[1].arrays()
    with pytest.raises(CorpusError, match=r"shard-00002 \(documents 20..29\): checksum mismatch"):
        reopened.shards[2].arrays()  # ... the shard is checked when first opened
    with pytest.raises(CorpusError, match="checksum mismatch"):
        ShardedCorpus(corpus.path).verify()


def test_changed_vocabulary_and_missing_files(corpus):
    (corpus.path / "vocabulary.txt").write_text("x\n" * 23, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"vocabulary file .* checksum mismatch"):
        ShardedCorpus(corpus.path)


def test_missing_shard_file(corpus):
    (corpus.shards[0].folder / "indices.npy").unlink()
    with pytest.raises(CorpusError, match="shard-00000: indices.npy is missing"):
        ShardedCorpus(corpus.path).shards[0].open()


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(version=FORMAT_VERSION + 1),
     f"format version {FORMAT_VERSION + 1}, but this fastcavi reads version {FORMAT_VERSION}"),
    (lambda m: m.update(format="something else"), "not a fastcavi sharded corpus manifest"),
    (lambda m: m.pop("nnz"), "missing field 'nnz'"),
    (lambda m: m["shards"][1].update(start=11), "shard 1 covers documents 11..19, expected it "
                                                "to start at 10"),
    (lambda m: m.update(n_documents=36), "the shards hold 37 documents"),
    (lambda m: m.update(dtype="int8"), "dtype 'int8' is not one of"),
])
def test_bad_manifest(corpus, edit, message):
    mpath = corpus.path / "manifest.json"
    m = json.loads(mpath.read_text())
    edit(m)
    mpath.write_text(json.dumps(m))
    with pytest.raises(CorpusError, match=message) as info:
        ShardedCorpus(corpus.path)
    assert "\n" not in str(info.value) and str(mpath) in str(info.value)


def test_not_a_corpus(tmp_path):
    with pytest.raises(FileNotFoundError):
        ShardedCorpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no manifest.json"):
        ShardedCorpus(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        ShardedCorpus(tmp_path)


# --------------------------------------------------------------------------
# Interrupts: nothing is left behind, whenever they come
# --------------------------------------------------------------------------


def _interrupt_at(monkeypatch, module, name, at):
    """Make ``module.name`` raise KeyboardInterrupt on its ``at``-th call."""
    real = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# sha256_files runs once per text file (vocabulary, documents) and once per shard
@pytest.mark.parametrize("at", [1, 2, 3, 4, 5])
def test_interrupted_text_writer_leaves_nothing(tmp_path, monkeypatch, at):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(9):
        (docs / f"{i}.txt").write_text(f"word{i} common word{i % 3}", encoding="utf-8")
    calls = _interrupt_at(monkeypatch, shard_writer, "sha256_files", at)
    with pytest.raises(KeyboardInterrupt):
        shard_text_folder(docs, tmp_path / "out", shard_docs=3)  # 2 text files + 3 shards
    assert len(calls) == at
    assert_nothing_written(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("point", ["first pass", "shard", "manifest", "rename"])
def test_interrupted_writers_leave_nothing(tmp_path, monkeypatch, point):
    from fastcavi.datasets import shard_text

    X = counts()
    path = write_uci(tmp_path, X)
    if point == "first pass":
        docs = tmp_path / "docs"
        docs.mkdir()
        for i in range(5):
            (docs / f"{i}.txt").write_text("some words here", encoding="utf-8")
        _interrupt_at(monkeypatch, shard_text, "_read_text_file", 3)
        run = lambda: shard_text_folder(docs, tmp_path / "out")  # noqa: E731
    else:
        target = {"shard": (ShardWriter, "_flush", 2), "manifest": (shard_writer.json, "dump", 1),
                  "rename": (shard_writer, "_commit", 1)}[point]
        _interrupt_at(monkeypatch, *target)
        run = lambda: shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "out",  # noqa
                                    shard_docs=10, chunk_bytes=30)
    with pytest.raises(KeyboardInterrupt):
        run()
    assert_nothing_written(tmp_path, tmp_path / "out")
    monkeypatch.undo()
    c = shard_uci_bow(path, tmp_path / "vocab.t.txt", tmp_path / "out", shard_docs=10)
    assert_same(c, load_corpus(path).X, load_corpus(path).vocabulary)


def test_writer_left_without_finish_leaves_nothing(tmp_path):
    with ShardWriter(tmp_path / "out", 3) as w:
        w.write_vocabulary(["a", "b", "c"])
        w.add_rows(np.ones(2), np.array([0, 2]), [2])
    assert_nothing_written(tmp_path, tmp_path / "out")
    assert isinstance(Shard, type)
