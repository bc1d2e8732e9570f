"""A predictor is what every sampler steps with: predict(x_t, t) -> (estimate, predicted variance or None).

The estimate is the noise eps for a DDPM (t a timestep index) or the velocity for flow matching (t a time in
[0, 1], 0 = noise); the variance is a model's own where it learns one (DeepFloyd IF), else None. `ddpm.sample` and
`flow.euler_sample` step with any predictor; `conditional` and `guided` make one from a model, and part A's
anagram and factorized predictors (parta/algorithms.py) from several guided ones.
"""

from collections.abc import Callable
from typing import Protocol

import torch

from difflab.core import guidance

Prediction = tuple[torch.Tensor, torch.Tensor | None]
Predictor = Callable[[torch.Tensor, float], Prediction]


class Conditioned(Protocol):
    """What a predictor needs of a model: a batched estimate for conditions, and whether it predicts a variance."""
    predicts_variance: bool

    def predict(self, x_t: torch.Tensor, t: float, cond: torch.Tensor | None) -> Prediction: ...


def expand(cond: torch.Tensor, n: int) -> torch.Tensor:
    """One condition (1, ...) repeated for a batch of n, or n conditions passed through."""
    if len(cond) not in (1, n):
        raise ValueError(f"{len(cond)} conditions for a batch of {n} images; allowed: 1 or {n}")
    return cond.expand(n, *cond.shape[1:]) if len(cond) == 1 else cond


def conditional(model: Conditioned, cond: torch.Tensor) -> Predictor:
    """The model's own estimate for one condition, no guidance (A1.3 - A1.5)."""
    return lambda x, t: model.predict(x, t, expand(cond, len(x)))


def guided(model: Conditioned, cond: torch.Tensor, null: torch.Tensor, scale: float) -> Predictor:
    """Classifier-free guidance (A1.6): eps = eps_u + scale (eps_c - eps_u), one batched call for both; the predicted
    variance is the conditional one.

    No model call is wasted: at scale 1 the estimate is the conditional one, and at scale 0 the unconditional one
    (where the model predicts no variance, which would have to come from the conditional half)."""
    if scale == 1:
        return conditional(model, cond)
    if scale == 0 and not model.predicts_variance:
        return conditional(model, null)

    def predict(x: torch.Tensor, t: int) -> Prediction:
        n = len(x)
        eps, var = model.predict(torch.cat([x, x]), t, torch.cat([expand(cond, n), expand(null, n)]))
        (eps_c, eps_u), var_c = eps.chunk(2), (None if var is None else var[:n])
        return guidance.combine(eps_u, eps_c, scale), var_c
    return predict


