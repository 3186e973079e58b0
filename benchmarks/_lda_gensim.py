"""gensim's runs for ``compare_lda.py``: ``LdaModel`` (defaults, tuned) and ``LdaMulticore``.

Each run is timed pass by pass with a :class:`PassLog` from ``_lda_harness.py``
(``LdaModel``: an epoch-end callback metric; ``LdaMulticore``, which has no
callbacks: the start of its next pass) and scored after every pass with the
same held-out document completion as fastcavi and scikit-learn.
"""

from threadpoolctl import threadpool_limits

from _lda_harness import PassLog, StopFit, reached

GENSIM_VARIANTS = ("default", "tuned", "multicore")


def run_gensim(X, k, seed, heldout, target, max_passes, budget_seconds, variant,
               tuned_iterations=100, workers=2):
    """gensim, held-out perplexity after every pass; returns (log, model, label, processes).

    ``variant``: "default" is ``LdaModel`` with gensim's defaults (online,
    ``chunksize=2000``, ``decay=0.5``, ``offset=1``, ``iterations=50``,
    ``gamma_threshold=1e-3``, alpha and eta symmetric 1/K, float32), one
    process; "tuned" the same with ``iterations=tuned_iterations`` (100 =
    fastcavi's and scikit-learn's ``max_doc_update_iter``); "multicore"
    ``LdaMulticore(workers=workers)`` with its defaults. All with
    ``eval_every=None`` (gensim's default 10 evaluates a log-perplexity on the
    last chunk of every pass: evaluation, excluded like the others') and BLAS
    at one thread. Time from constructing the model (its initialisation) to
    the end of each pass, held-out evaluation excluded.
    """
    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaModel, LdaMulticore
    from gensim.models.callbacks import Metric

    corpus = list(Sparse2Corpus(X, documents_columns=False))  # in-memory bag of words
    id2word = {i: str(i) for i in range(X.shape[1])}

    def stop(p, v):
        return reached(v, target) or p >= max_passes or log.now() > budget_seconds

    log = PassLog(on_pass=lambda p, model: heldout.gensim(model), stop=stop)

    if variant == "multicore":
        import gensim.models.ldamulticore as multicore_module

        label, procs = f"gensim LdaMulticore(workers={workers}) defaults", workers
        # LdaMulticore takes no callbacks. One update(passes=max_passes) call, as a user
        # runs it, with the pass boundaries found where its loop starts each pass after the
        # first: it asks gensim.utils.grouper for the pass's chunks once the previous pass's
        # jobs are merged and its last M-step done. Its worker pool is recorded so that it
        # can be ended when the hook stops the fit.
        real_grouper, real_pool = multicore_module.utils.grouper, multicore_module.Pool
        pools, calls = [], [0]

        def grouper(*a, **kw):
            if calls[0]:
                log.end_pass(model)
            calls[0] += 1
            return real_grouper(*a, **kw)

        def pool(*a, **kw):
            pools.append(real_pool(*a, **kw))
            return pools[-1]

        with threadpool_limits(1):
            log.begin()
            model = LdaMulticore(None, num_topics=k, id2word=id2word, workers=workers,
                                 eval_every=None, random_state=seed, passes=max_passes)
            log.mark_init()
            multicore_module.utils.grouper, multicore_module.Pool = grouper, pool
            try:
                model.update(corpus)
                log.end_pass(model)
            except StopFit:
                pass
            finally:
                multicore_module.utils.grouper, multicore_module.Pool = real_grouper, real_pool
                for pl in pools:
                    pl.terminate()
        return log, model, label, procs

    class PassMetric(Metric):
        logger = None
        title = "fastcavi-pass-hook"

        def get_value(self, **kwargs):
            log.end_pass(kwargs["model"])
            return 0.0

    params = dict(iterations=tuned_iterations) if variant == "tuned" else {}
    label = ("gensim LdaModel defaults" if variant == "default"
             else f"gensim LdaModel iterations={tuned_iterations} (tuned)")
    with threadpool_limits(1):
        log.begin()
        model = LdaModel(None, num_topics=k, id2word=id2word, eval_every=None,
                         random_state=seed, callbacks=[PassMetric()], **params)
        log.mark_init()
        try:
            model.update(corpus, passes=max_passes)
        except StopFit:
            pass
    return log, model, label, 1
