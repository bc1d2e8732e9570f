"""The model every part A algorithm is written against: DeepFloyd IF (deepfloyd.py) and part B's class DDPM and
class flow model (sampling/adapters.py) implement it. How it noises and steps is its process (core/processes.py,
built by its objective: core/objectives.py), so the model itself only predicts.

A diffusion model here is anything with
- `objective`: a core.objectives.DDPM (with its noise schedule) or Flow (a linear flow, time 0 = noise,
  1 = image): what it asks of a process;
- `predict(x_t, t, cond) -> (estimate, predicted variance or None)`: batched over images and conditions; the
  estimate is the noise eps at timestep t (a DDPM) or the velocity at time t (a flow);
- `predicts_variance`: whether predict's second output is a variance (IF's learned range) or None (MNIST);
- `null_prompt` (""): the prompt of the unconditional estimate (conditions come from conditions.py's cache);
- `image_size`, `channels`, `to_model(x)` / `to_unit(x)`: its value range against [0, 1] images;
- `display_size`: the side of the images it shows (after upsampling);
- `upsample(x, cond, null, generator)`: a higher-resolution version for display (identity where there is none).
"""

from typing import Protocol

import torch

from difflab.core.objectives import DDPM, Flow


class DiffusionModel(Protocol):
    name: str
    objective: DDPM | Flow
    image_size: int
    display_size: int
    channels: int
    null_prompt: str
    predicts_variance: bool
    device: torch.device

    def predict(self, x_t: torch.Tensor, t, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def to_model(self, x: torch.Tensor) -> torch.Tensor: ...

    def to_unit(self, x: torch.Tensor) -> torch.Tensor: ...

    def upsample(self, x: torch.Tensor, cond: torch.Tensor, null: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor: ...
