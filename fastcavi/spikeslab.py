"""Spike-and-slab regression now lives in :mod:`fastcavi.linear_model`.

This module keeps the old import path (and pickles made with it) working.
"""

from .linear_model.spikeslab import SpikeSlabRegression, spikeslab_elbo

__all__ = ["SpikeSlabRegression", "spikeslab_elbo"]
