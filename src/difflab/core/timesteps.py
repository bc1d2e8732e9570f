"""The one rule for which timesteps a DDPM sampler visits, from a step count or a stride, always descending to 0.

Part A's figures step by a stride (the course's: every 30th of IF's 1,000), part B's samplers and both steps
comparisons by a count; DDIM and the DDPM step take the same list. `len(timesteps(...))` is the number of model
calls, which is what a figure's label says.
"""

import torch

from difflab.errors import InputError


def timesteps(num_timesteps: int, num_steps: int | None = None, stride: int | None = None) -> list[int]:
    """Descending timesteps of a T-step schedule, ending at 0:
    - neither given: all T of them, T - 1 down to 0;
    - num_steps: that many, spread evenly from T - 1 down to 0 and rounded (T = 300, 5 -> 299, 224, 150, 75, 0);
    - stride: every stride-th, ending at 0 (T = 1000, stride 30 -> 990, 960, ..., 30, 0: 34 steps).
    The DDPM's posterior step and DDIM's are exact between any two of them, so fewer steps are a strided sampler."""
    assert num_steps is None or stride is None, f"num_steps={num_steps} and stride={stride}: one of the two"
    if stride is not None:
        if not isinstance(stride, int) or not 1 <= stride < num_timesteps:
            raise InputError(f"stride={stride!r}; allowed: 1 .. {num_timesteps - 1}")
        return list(range(stride * ((num_timesteps - 1) // stride), -1, -stride))
    if num_steps is None:
        return list(range(num_timesteps - 1, -1, -1))
    if not isinstance(num_steps, int) or not 1 <= num_steps <= num_timesteps:
        raise InputError(f"num_steps={num_steps!r}; allowed for a DDPM: 1 .. T ({num_timesteps})")
    return torch.linspace(num_timesteps - 1, 0, num_steps).round().long().tolist()
