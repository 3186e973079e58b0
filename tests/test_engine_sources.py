"""The engine's block sources and local-state stores (fastcavi.engine.sources).

A Streamed source opens each block when a pass reaches it and holds one at a
time; run_cavi over it equals run_cavi over the same blocks in a list, bit for
bit, whatever the store the local states live in (a list, none, files).
"""

import gc
import weakref

import numpy as np
import pytest

from engine_toy import GaussianMeanPrecision
from fastcavi.engine import (DiscardLocals, RobbinsMonro, SpillLocals, Stats, Streamed,
                             as_source, run_cavi, run_svi)


class Block(list):
    """A list that weak references can point to (to see when a block is let go)."""


class Counting:
    """Opens block ``i`` of ``parts`` and records which blocks are alive meanwhile."""

    def __init__(self, parts):
        self.parts = parts
        self.alive = []
        self.max_alive = 0

    def __call__(self, i):
        gc.collect()
        self.alive = [r for r in self.alive if r() is not None]
        block = Block(self.parts[i])
        self.alive.append(weakref.ref(block))
        self.max_alive = max(self.max_alive, len(self.alive))
        return block


class WithLocals(GaussianMeanPrecision):
    """The toy with a local state per block: a counter of visits (an ndarray)."""

    fresh_stats = True

    def init_local(self, block, g, previous):
        return np.zeros(1) if previous is None else previous

    def local_step(self, block, g, local):
        stats, _ = super().local_step(block, g, None)
        # an ndarray part (0-d), which the driver sums in place (fresh_stats)
        return Stats(n=stats["n"], sx=np.array(stats["sx"]), sxx=stats["sxx"]), local + 1


@pytest.fixture
def parts():
    return [list(p) for p in np.array_split(np.random.default_rng(1).normal(1.0, 2.0, 500), 5)]


def test_streamed_opens_blocks_lazily_and_holds_one_at_a_time(parts):
    opener = Counting(parts)
    source = Streamed(range(5), opener)
    assert len(source) == 5 and as_source(source) is source
    model = GaussianMeanPrecision()
    res = run_cavi(model, source, model.init_global(), max_iter=3)
    assert opener.max_alive == 1  # the driver lets each block go before the next is opened
    one = run_cavi(model, [np.asarray(p) for p in parts], model.init_global(), max_iter=3)
    assert res.g == one.g and res.elbo_history == one.elbo_history  # bit for bit


def test_as_source_lists_anything_else():
    gen = (b for b in ([1.0], [2.0]))
    assert as_source(gen) == [[1.0], [2.0]]


@pytest.mark.parametrize("store", ["list", "spill"])
def test_stores_keep_local_states_across_passes(parts, store, tmp_path):
    model = WithLocals()
    locals_ = None if store == "list" else SpillLocals(tmp_path, 5)
    res = run_cavi(model, Streamed(range(5), lambda i: parts[i]), model.init_global(),
                   max_iter=4, locals_=locals_)
    assert [int(res.locals[b][0]) for b in range(5)] == [4] * 5
    if store == "spill":
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            f"local-{b:06d}.npy" for b in range(5)]


def test_discard_keeps_nothing_and_the_fit_is_the_same(parts):
    model = WithLocals()
    res = run_cavi(model, parts, model.init_global(), max_iter=3, locals_=DiscardLocals(5))
    assert all(res.locals[b] is None for b in range(5))
    ref = run_cavi(GaussianMeanPrecision(), [np.asarray(p) for p in parts],
                   GaussianMeanPrecision().init_global(), max_iter=3)
    assert res.g == ref.g


def test_store_of_the_wrong_size_is_refused(parts):
    model = GaussianMeanPrecision()
    with pytest.raises(ValueError, match="4 entries for 5 blocks"):
        run_cavi(model, parts, model.init_global(), max_iter=1, locals_=DiscardLocals(4))
    with pytest.raises(IndexError):
        DiscardLocals(2)[2]


def test_spill_locals_round_trip_and_removal(tmp_path):
    store = SpillLocals(tmp_path, 2)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert store[0] is None
    store[0] = a
    got = store[0]
    assert got.dtype == a.dtype and np.array_equal(got, a) and got is not a
    store[0] = None
    assert store[0] is None and not any(tmp_path.iterdir())
    with pytest.raises(TypeError, match="ndarrays"):
        store[1] = [1.0]


def test_add_into_sums_in_place_with_the_numbers_of_plus():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4)), rng.random((3, 4))
    first = Stats(s=a.T.copy().T, d=np.float64(1.5), n=2)  # a transposed (non-contiguous) part
    total = first.add_into(Stats(s=b, d=np.float64(0.25), n=3))
    assert total is first
    np.testing.assert_array_equal(total["s"], a + b)
    assert total["d"] == 1.75 and total["n"] == 5
    with pytest.raises(TypeError, match="names"):
        total.add_into(Stats(s=b))


def test_svi_over_a_streamed_source_is_svi_over_the_list(parts):
    model = GaussianMeanPrecision()
    sched_a, sched_b = RobbinsMonro(1.0, 0.7, total=500), RobbinsMonro(1.0, 0.7, total=500)
    ga, _ = run_svi(model, Streamed(range(5), lambda i: np.asarray(parts[i])),
                    model.init_global(), sched_a)
    gb, _ = run_svi(model, [np.asarray(p) for p in parts], model.init_global(), sched_b)
    assert ga == gb and sched_a.t == sched_b.t == 6
