"""Latent Dirichlet allocation as an engine model: the steps, in arrays and kernels.

:class:`LDAModel` is LDA for the drivers of :mod:`fastcavi.engine` (it knows
arrays and kernels, not scikit-learn): the local step is the E-step over a
block of documents (gamma and phi, Blei, Ng & Jordan 2003, eqs. 6-7), with the
additive statistics sstats (the topic-word counts expected under phi) and the
documents' ELBO terms; the global step is lambda = eta + sstats (CAVI) or the
Robbins-Monro blend of stochastic VI (Hoffman, Blei & Bach 2010, Algorithm 2),
plus the learned document prior (:mod:`fastcavi.lda.prior`); the ELBO adds the
topic terms.

References
----------
Blei, Ng & Jordan (2003), "Latent Dirichlet allocation", JMLR 3 (CAVI, eqs. 6-7,
16-17). Hoffman, Blei & Bach (2010), "Online learning for latent Dirichlet
allocation", NIPS (notation, Algorithm 2). Hoffman, Blei, Wang & Paisley (2013),
"Stochastic variational inference", JMLR 14.
"""

from dataclasses import dataclass

import numpy as np

from ..engine import Stats
from .corpus import CsrCorpus, Minibatch
from .prior import sum_elogtheta, update_dirichlet_prior

__all__ = ["LDAModel", "Topics", "WordColumns", "LocalResult", "e_step",
           "exp_topic_word_columns", "topic_expectations", "check_finite", "INIT_SHAPE",
           "INIT_SCALE"]

#: gamma and lambda start from Gamma(100, 1/100) draws, as in scikit-learn
INIT_SHAPE, INIT_SCALE = 100.0, 0.01


@dataclass
class LocalResult:
    """Output of :func:`e_step`.

    Attributes
    ----------
    doc_bound : ndarray of shape (n_docs,), float64
        Per-document ELBO terms (nats), see ``reference.lda_e_step``.
    sstats : ndarray of shape (n_topics, n_words) or None
        Expected sufficient statistics of lambda (without the prior).
    n_updates : int
        Total gamma updates over all documents.
    """

    doc_bound: np.ndarray
    sstats: np.ndarray
    n_updates: int


def e_step(kernels, corpus, exp_topic_word, alpha, gamma, max_iter, mean_change_tol,
           n_threads, cal_sstats, eps=None):
    """Local CAVI step over a corpus; ``gamma`` is updated in place.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    corpus : CsrCorpus
    exp_topic_word : ndarray of shape (n_words, n_topics)
        exp(E[log beta]) in word-major layout.
    alpha : ndarray of shape (n_topics,)
    gamma : ndarray of shape (n_docs, n_topics), C-contiguous, working dtype
    max_iter, mean_change_tol : int, float
        As ``max_doc_update_iter`` and ``mean_change_tol`` of the estimator.
    n_threads : int
    cal_sstats : bool
        Also compute the sufficient statistics for the global step.
    eps : float or None
        Added to phinorm; None means ``np.finfo(dtype).eps`` (as scikit-learn).

    Returns
    -------
    LocalResult
    """
    dtype = gamma.dtype
    n_docs, n_topics = gamma.shape
    if eps is None:
        eps = float(np.finfo(dtype).eps)
    exp_doc_topic = np.empty((n_docs, n_topics), dtype=dtype)
    ratio = np.empty(corpus.data.shape[0], dtype=dtype)
    doc_bound = np.empty(n_docs, dtype=np.float64)
    n_updates = kernels.lda_e_step(
        corpus.data, corpus.indices, corpus.indptr, exp_topic_word,
        np.ascontiguousarray(alpha, dtype=dtype), gamma, max_iter, mean_change_tol, eps,
        exp_doc_topic, ratio, doc_bound, n_threads,
    )
    sstats = None
    if cal_sstats:
        csc_indptr, csc_docs, csc_perm = corpus.column_structure()
        sstats_T = np.empty_like(exp_topic_word)
        kernels.lda_suff_stats(csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic,
                               exp_topic_word, sstats_T, n_threads)
        sstats = sstats_T.T
    return LocalResult(doc_bound, sstats, n_updates)


def exp_topic_word_columns(kernels, lam, words, n_threads):
    """exp(E_q[log beta_kw]) for a subset of the words, in word-major layout.

    Uses the aggregation property of the Dirichlet: if beta_k ~ Dir(lambda_k),
    then (beta_kS, sum of beta_kw over the words w not in S) ~ Dir(lambda_kS,
    sum of lambda_kw over those words), so E[log beta_kw] for w in S only needs
    lambda_kS and the topic totals. Online learning uses it to compute the
    expectations of a minibatch's words only (Hoffman et al. 2010, Alg. 2
    needs no others), instead of all n_words of them after every step.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    lam : ndarray of shape (n_topics, n_words), float32 or float64
        lambda, positive.
    words : ndarray of shape (n_used,), int
        Distinct word indices, sorted.
    n_threads : int

    Returns
    -------
    ebeta : ndarray of shape (n_used, n_topics), dtype of ``lam``, C-contiguous
        Row j is exp(E[log beta_{., words[j]}]), equal to the rows ``words`` of
        the full ``exp_dirichlet_expectation_T`` up to rounding of the totals.
    """
    n_topics, n_words = lam.shape
    n_used = words.shape[0]
    if n_used == n_words:
        out = np.empty((n_words, n_topics), dtype=lam.dtype)
        kernels.exp_dirichlet_expectation_T(lam, 1.0, out, False, n_threads)
        return out
    aggregated = np.empty((n_topics, n_used + 1), dtype=lam.dtype)
    np.take(lam, words, axis=1, out=aggregated[:, :n_used])
    rest = lam.sum(axis=1, dtype=np.float64) - aggregated[:, :n_used].sum(axis=1,
                                                                          dtype=np.float64)
    # the untouched words hold at least their share of a positive lambda; guard rounding
    aggregated[:, n_used] = np.maximum(rest, np.finfo(lam.dtype).tiny)
    out = np.empty((n_used + 1, n_topics), dtype=lam.dtype)
    kernels.exp_dirichlet_expectation_T(aggregated, 1.0, out, False, n_threads)
    return out[:n_used]


def topic_expectations(kernels, lam, eta, n_threads):
    """exp(E_q[log beta]) in word-major layout and the topic terms of the ELBO.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    lam : ndarray of shape (n_topics, n_words)
        lambda, positive.
    eta : float
        The topic-word prior.
    n_threads : int

    Returns
    -------
    ebeta : ndarray of shape (n_words, n_topics), dtype of ``lam``
        exp(E[log beta]) (in the literature, exp(E[log(beta)])).
    topic_bound : float
        E_q[log p(beta | eta) - log q(beta | lambda)], in nats.
    """
    n_topics, n_words = lam.shape
    ebeta = np.empty((n_words, n_topics), dtype=lam.dtype)
    bound = kernels.exp_dirichlet_expectation_T(lam, eta, ebeta, True, n_threads)
    return ebeta, bound


def check_finite(value, what, kernels):
    """Raise FloatingPointError naming ``what`` unless every entry of ``value`` is finite."""
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(
            f"LatentDirichletAllocation: {what} became NaN or infinite (kernel backend "
            f"{kernels.name!r}); the fit is abandoned and the estimator keeps its previous state")


class WordColumns:
    """Topic-word statistics over some of the words: the columns ``words`` of a matrix.

    A minibatch's sstats are zero outside the words it uses, so they are kept
    as those columns only, (n_topics, n_used), never as (n_topics, n_words).
    They add as the matrices they stand for: the sum of two is over the union
    of their words; added to an ndarray of shape (n_topics, n_words), the
    result is that ndarray's dense sum. ``np.asarray`` gives the dense matrix.

    Parameters
    ----------
    words : ndarray of shape (n_used,), int64
        Sorted, distinct word indices.
    values : ndarray of shape (n_topics, n_used)
    n_words : int
        Size of the whole vocabulary.
    """

    __array_ufunc__ = None  # ndarray + WordColumns goes to __radd__

    def __init__(self, words, values, n_words):
        self.words = words
        self.values = values
        self.n_words = int(n_words)

    @property
    def shape(self):
        return (self.values.shape[0], self.n_words)

    def toarray(self):
        """The dense (n_topics, n_words) matrix."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[:, self.words] = self.values
        return out

    def __array__(self, dtype=None, copy=None):
        out = self.toarray()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __add__(self, other):
        if isinstance(other, WordColumns):
            if other.shape != self.shape:
                raise ValueError(f"cannot add statistics of shapes {self.shape} and {other.shape}")
            words = np.union1d(self.words, other.words)
            values = np.zeros((self.shape[0], words.shape[0]),
                              dtype=np.result_type(self.values, other.values))
            values[:, np.searchsorted(words, self.words)] += self.values
            values[:, np.searchsorted(words, other.words)] += other.values
            return WordColumns(words, values, self.n_words)
        if isinstance(other, np.ndarray):
            out = np.array(other, dtype=np.result_type(other, self.values))
            out[:, self.words] += self.values
            return out
        return NotImplemented

    __radd__ = __add__

    def __mul__(self, c):
        return WordColumns(self.words, self.values * c, self.n_words)

    __rmul__ = __mul__

    def __repr__(self):
        return f"WordColumns({self.values.shape[1]} of {self.n_words} words)"


@dataclass
class Topics:
    """LDA's global state: q(beta_k) = Dirichlet(lambda_k), and the priors.

    Attributes
    ----------
    lam : ndarray of shape (n_topics, n_words)
        lambda (``components_``), float32 or float64.
    eta : float
        Topic-word prior.
    alpha : ndarray of shape (n_topics,), float64
        Document-topic prior.
    ebeta : ndarray of shape (n_words, n_topics) or None
        exp(E[log beta]) of ``lam``, word-major; None until computed
        (:meth:`LDAModel.topics`), as after a minibatch step.
    topic_bound : float or None
        The topic terms of the ELBO, computed with ``ebeta``.
    owns_lam : bool
        ``lam`` is this state's own array (not a fitted ``components_``), so a
        Robbins-Monro step may update it in place.
    """

    lam: np.ndarray
    eta: float
    alpha: np.ndarray
    ebeta: np.ndarray = None
    topic_bound: float = None
    owns_lam: bool = True


class LDAModel:
    """LDA's steps for the engine's drivers (:class:`fastcavi.engine.Model`).

    Blocks are :class:`~fastcavi.lda.corpus.CsrCorpus` (documents over the
    whole vocabulary: batch learning) or :class:`~fastcavi.lda.corpus.Minibatch`
    (documents over their own words: online learning). A block's local state
    is gamma, shape (n_docs, n_topics); the global state is :class:`Topics`.

    Statistics (additive over blocks, :class:`fastcavi.engine.Stats`):

    - ``sstats``: sum_d n_dw phi_dwk, shape (n_topics, n_words) for a
      CsrCorpus, :class:`WordColumns` over the block's words for a Minibatch;
    - ``doc_bound``: the documents' ELBO terms, in nats;
    - ``elogtheta`` (sum_d E_q[log theta_d], shape (n_topics,)) and
      ``n_docs``, when the prior is learned.

    Parameters
    ----------
    kernels : namespace from :func:`fastcavi.kernels.get_backend`
    n_topics : int
    max_doc_update_iter : int, default=100
        Most gamma updates per document per E-step.
    mean_change_tol : float, default=1e-3
        A document's E-step stops when gamma's mean absolute change is below this.
    n_threads : int, default=1
    random_state : numpy.random.RandomState or None, default=None
        gamma starts each E-step from Gamma(100, 1/100) draws of it, in
        scikit-learn's order (block by block); None: from 1, as ``transform``.
    warm : bool, default=False
        After its first E-step a block starts from its gamma of the last pass.
    learn_prior : {None, "symmetric", "asymmetric"}, default=None
        Learn alpha in the global step (Minka's Newton iteration).
    """

    static_stats = False
    #: local_step returns new arrays: the batch driver sums blocks into the first one's
    fresh_stats = True

    def __init__(self, kernels, n_topics, *, max_doc_update_iter=100, mean_change_tol=1e-3,
                 n_threads=1, random_state=None, warm=False, learn_prior=None):
        self.kernels = kernels
        self.n_topics = int(n_topics)
        self.max_doc_update_iter = max_doc_update_iter
        self.mean_change_tol = mean_change_tol
        self.n_threads = n_threads
        self.random_state = random_state
        self.warm = warm
        self.learn_prior = learn_prior

    # ------------------------------------------------------------- global state
    def initial_state(self, lam, eta, alpha):
        """The state of a fit starting from ``lam`` (owned), with its topics computed.

        Parameters
        ----------
        lam : ndarray of shape (n_topics, n_words)
        eta : float
        alpha : ndarray of shape (n_topics,)

        Returns
        -------
        Topics
        """
        return self.topics(Topics(lam, eta, np.asarray(alpha, dtype=np.float64)))

    def draw_lambda(self, n_words, dtype):
        """lambda drawn from Gamma(100, 1/100) with ``random_state`` (scikit-learn's start).

        Returns
        -------
        ndarray of shape (n_topics, n_words), ``dtype``
        """
        return self.random_state.gamma(INIT_SHAPE, INIT_SCALE, (self.n_topics, n_words)).astype(
            dtype, copy=False)

    def topics(self, g):
        """``g`` with exp(E[log beta]) and the topic ELBO terms (computed once, then kept).

        Parameters
        ----------
        g : Topics

        Returns
        -------
        Topics
            ``g`` itself.
        """
        if g.ebeta is None or g.topic_bound is None:
            g.ebeta, g.topic_bound = topic_expectations(self.kernels, g.lam, g.eta,
                                                        self.n_threads)
        return g

    # ------------------------------------------------------------------ steps
    def n_items(self, block):
        """Documents in ``block``."""
        return block.n_docs

    def init_local(self, block, g, previous):
        """gamma to start the block's E-step from.

        The last pass's gamma when ``warm`` and there is one; else fresh draws
        from ``random_state`` (scikit-learn's order: one (n_docs, n_topics)
        draw per block, blocks in order), or ones without a random state.
        """
        return self._start_gamma(block.n_docs, _corpus(block).data.dtype, previous)

    def start_local(self, shard, g, previous):
        """:meth:`init_local` from a shard's description, for a driver that opens blocks elsewhere.

        The Dask driver calls this on the client, block after block, so that
        gamma is drawn from ``random_state`` in the order a one-machine pass
        draws it, and sends it with the block's task.

        Parameters
        ----------
        shard : fastcavi.datasets.Shard
        g : Topics
        previous : ndarray or None

        Returns
        -------
        ndarray of shape (n_docs of the shard, n_topics)
        """
        return self._start_gamma(shard.n_documents, np.dtype(shard.dtype), previous)

    def _start_gamma(self, n_docs, dtype, previous):
        if self.warm and previous is not None:
            return previous
        shape = (n_docs, self.n_topics)
        if self.random_state is None:
            return np.ones(shape, dtype=dtype)
        return self.random_state.gamma(INIT_SHAPE, INIT_SCALE, shape).astype(dtype, copy=False)

    def local_step(self, block, g, gamma):
        """The E-step over ``block`` under ``g`` (gamma updated in place) and its statistics.

        Returns
        -------
        stats : Stats
        gamma : ndarray of shape (n_docs, n_topics)

        Raises
        ------
        FloatingPointError
            If the statistics are not finite.
        """
        minibatch = isinstance(block, Minibatch)
        if minibatch:
            # exp(E[log beta]) of the minibatch's words only, from lambda (Dirichlet aggregation)
            ebeta = exp_topic_word_columns(self.kernels, g.lam, block.words, self.n_threads)
        else:
            ebeta = self.topics(g).ebeta
        res = e_step(self.kernels, _corpus(block), ebeta, g.alpha, gamma,
                     self.max_doc_update_iter, self.mean_change_tol, self.n_threads, True)
        if minibatch:
            check_finite(res.sstats, "the minibatch's topic-word statistics", self.kernels)
            check_finite(res.doc_bound, "the minibatch's document ELBO terms", self.kernels)
            sstats = WordColumns(block.words, res.sstats, block.n_words)
        else:
            check_finite(res.sstats, "the topic-word statistics", self.kernels)
            sstats = res.sstats
        parts = {"sstats": sstats, "doc_bound": res.doc_bound.sum()}
        if self.learn_prior:
            parts["elogtheta"] = sum_elogtheta(gamma)
            parts["n_docs"] = gamma.shape[0]
        return Stats(**parts), gamma

    def global_step(self, g, stats, scale=1.0, rho=1.0):
        """lambda (and alpha, if learned) from statistics standing for ``scale`` times theirs.

        rho = 1 is the CAVI update lambda = eta + scale * sstats; rho < 1 the
        Robbins-Monro step lambda <- (1 - rho) lambda + rho (eta + scale *
        sstats) of stochastic VI (Hoffman et al. 2010, Algorithm 2), which for
        :class:`WordColumns` statistics touches the other words only through
        the factor (1 - rho). That step updates ``g.lam`` in place when ``g``
        owns it (no (n_topics, n_words) copy per minibatch); ``g`` is then used
        up, its arrays set to None. A learned alpha moves to ``(1 - rho)
        alpha + rho`` times the optimum for the block's own statistics
        (unscaled: the optimum does not depend on the scale).

        After a step from whole-vocabulary statistics (a batch pass),
        exp(E[log beta]) is computed at once, since the next pass needs all of
        it; after a minibatch's, when first needed (:meth:`topics`). ``g``'s
        own, a cache, is dropped (``g.ebeta = None``; :meth:`topics` makes it
        again), which keeps a batch step's memory at four topic-word arrays.

        Returns
        -------
        Topics
        """
        s = stats["sstats"]
        columns = isinstance(s, WordColumns)
        # g's exp(E[log beta]) is a cache (topics() recomputes it): let it go before the
        # new one is made, so that a batch step holds four topic-word arrays, not five
        g.ebeta = None
        if rho == 1.0:
            if columns:
                lam = np.full(g.lam.shape, g.eta, dtype=g.lam.dtype)
                lam[:, s.words] += s.values * scale
            else:
                lam = np.empty_like(g.lam)
                np.add(s if scale == 1.0 else s * scale, g.eta, out=lam)
        else:
            if g.owns_lam:
                lam = g.lam
                lam *= 1.0 - rho
                g.lam = g.ebeta = g.topic_bound = None  # updated in place: g is used up
            else:
                lam = np.multiply(g.lam, 1.0 - rho)
            lam += rho * g.eta
            if columns:
                lam[:, s.words] += s.values * (rho * scale)
            else:
                lam += s * (rho * scale)
        alpha = g.alpha
        if self.learn_prior:
            target = update_dirichlet_prior(alpha, stats["elogtheta"], stats["n_docs"],
                                            symmetric=self.learn_prior == "symmetric")
            alpha = (1.0 - rho) * alpha + rho * target
        new = Topics(lam, g.eta, alpha)
        return new if columns else self.topics(new)

    def epoch_part(self, stats):
        """What an epoch's ELBO needs of a minibatch's statistics: its document terms."""
        return Stats(doc_bound=stats["doc_bound"])

    def elbo(self, g_prev, g, stats):
        """The ELBO of a pass, in nats.

        With ``sstats`` among the statistics, they are a batch pass's, computed
        under ``g_prev``: the value is the exact ELBO of that pass's gamma and
        of ``g_prev`` (before the M-step, as scikit-learn evaluates it).
        Without (an epoch's :meth:`epoch_part` sums), the minibatches' document
        terms, each under the lambda of its step, plus ``g``'s topic terms: an
        estimate.

        Raises
        ------
        FloatingPointError
            If the value is not finite.
        """
        state = g_prev if "sstats" in stats else g
        if state.topic_bound is None:
            self.topics(state)
        value = stats["doc_bound"] + state.topic_bound
        check_finite(value, "the ELBO of a pass", self.kernels)
        return value

    # ------------------------------------------------------------- evaluation
    def infer(self, corpus, g, gamma):
        """The E-step over ``corpus`` without statistics (``gamma`` updated in place).

        It reads ``g.ebeta`` and ``g.alpha`` only (``g.ebeta`` is computed if None).

        Returns
        -------
        LocalResult
        """
        ebeta = g.ebeta if g.ebeta is not None else self.topics(g).ebeta
        return e_step(self.kernels, corpus, ebeta, g.alpha, gamma,
                      self.max_doc_update_iter, self.mean_change_tol, self.n_threads, False)

    def bound_topics(self, g):
        """What :meth:`exact_doc_bound` needs of the topics, in float64, and their ELBO terms.

        Parameters
        ----------
        g : Topics

        Returns
        -------
        ebeta64 : ndarray of shape (n_words, n_topics), float64
            exp(E[log beta]) (``g.ebeta`` itself for a float64 lambda).
        topic_bound : float
            E_q[log p(beta | eta) - log q(beta | lambda)], in nats.
        """
        if g.lam.dtype == np.float64:
            g = self.topics(g)
            return g.ebeta, g.topic_bound
        return topic_expectations(self.kernels, np.asarray(g.lam, dtype=np.float64), g.eta,
                                  self.n_threads)

    def exact_doc_bound(self, corpus, g, gamma, ebeta64):
        """The documents' terms of scikit-learn's ``_approx_bound``, in float64, no eps.

        Parameters
        ----------
        corpus : CsrCorpus
        g : Topics
            Only ``g.alpha`` is read.
        gamma : ndarray of shape (n_docs, n_topics)
            Not modified.
        ebeta64 : ndarray of shape (n_words, n_topics), float64
            From :meth:`bound_topics`.

        Returns
        -------
        float
            In nats: phi at its optimum for gamma, summed over the documents.
        """
        c64 = CsrCorpus(np.asarray(corpus.data, dtype=np.float64), corpus.indices, corpus.indptr,
                        corpus.n_words)
        g64 = np.array(gamma, dtype=np.float64, order="C")
        res = e_step(self.kernels, c64, ebeta64, g.alpha, g64, 0, 0.0, self.n_threads, False,
                     eps=0.0)
        return float(res.doc_bound.sum())

    def exact_bound(self, corpus, g, gamma, doc_scale=None):
        """scikit-learn's ``_approx_bound`` in float64: phi at its optimum for gamma, no eps.

        Parameters
        ----------
        corpus : CsrCorpus
        g : Topics
        gamma : ndarray of shape (n_docs, n_topics)
            Not modified.
        doc_scale : float, optional
            Multiplies the document terms (``perplexity(sub_sampling=True)``).

        Returns
        -------
        float
            :meth:`exact_doc_bound` (times ``doc_scale``) plus the topic terms.
        """
        ebeta64, topic_bound = self.bound_topics(g)
        doc = self.exact_doc_bound(corpus, g, gamma, ebeta64)
        if doc_scale is not None:
            doc *= doc_scale
        return doc + float(topic_bound)


def _corpus(block):
    return block.corpus if isinstance(block, Minibatch) else block
