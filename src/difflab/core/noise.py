"""Seeded noise that does not depend on batching: one random stream per image.

A sampler that draws each step's noise for a whole batch from one generator gives image i noise that depends on
which batch it is in, so a memory knob (`sample_batch_size`) would change the digits. Here, as with diffusers'
list of generators, image i has its own generator, seeded by (seed, i): its starting noise and every step's noise
are the same whatever batch it is drawn in and however a set is split into calls.
"""

from collections.abc import Sequence

import numpy as np
import torch

Generators = torch.Generator | Sequence[torch.Generator]


def image_generators(seed: int, n: int, device: torch.device | str = "cpu", start: int = 0) -> list[torch.Generator]:
    """Generators for images start .. start + n - 1 of the set `seed`: image i's seed is drawn from numpy's
    SeedSequence(seed, spawn_key=(i,)), so streams of different images and of different seeds do not overlap."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r}; allowed: an integer >= 0")
    seeds = (int(np.random.SeedSequence(seed, spawn_key=(i,)).generate_state(1, np.uint64)[0])
             for i in range(start, start + n))
    return [torch.Generator(device=device).manual_seed(s) for s in seeds]


def randn(shape: Sequence[int], generator: Generators, device: torch.device | str | None = None,
          dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal noise of `shape` (images first) from one generator, or from one generator per image
    (shape[0] of them: image i's noise comes from generator i alone)."""
    if isinstance(generator, torch.Generator):
        return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for {shape[0]} images; allowed: one generator per image")
    return torch.cat([torch.randn((1, *shape[1:]), generator=g, device=device, dtype=dtype) for g in generator])
