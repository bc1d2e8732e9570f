"""Classifier-free guidance, both halves, for every model that learns it (the DDPM's noise, flow matching's velocity):
training drops the class to the null vector now and then, so that one network learns the conditional and the
unconditional estimate; sampling extrapolates from the unconditional estimate towards the conditional one."""

import torch


def one_hot_dropout(labels: torch.Tensor, p_uncond: float, generator: torch.Generator,
                    num_classes: int = 10) -> torch.Tensor:
    """One-hot class vectors, each replaced by the zero ("no class") vector with probability p_uncond."""
    c = torch.nn.functional.one_hot(labels, num_classes).float()
    keep = torch.rand(len(labels), generator=generator, device=labels.device) >= p_uncond
    return c * keep[:, None]


def combine(uncond: torch.Tensor, cond: torch.Tensor, scale: float) -> torch.Tensor:
    """uncond + scale * (cond - uncond): scale 0 is the unconditional estimate, 1 the conditional one, more than 1
    pushes past it (noise estimates eps in a DDPM, velocities u in flow matching)."""
    return uncond + scale * (cond - uncond)
