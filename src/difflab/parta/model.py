"""The interface every part A algorithm is written against: DeepFloyd IF (deepfloyd.py) and part B's class DDPM
(sampling/adapters.py) implement it.

A diffusion model here is anything with
- `alphas_cumprod` (float64, CPU) and `num_train_timesteps`: its noise schedule;
- `predict(x_t, t, cond) -> (eps, predicted variance or None)`: batched over images and conditions;
- `predicts_variance`: whether predict's second output is a variance (IF's learned range) or None (MNIST);
- `null_prompt` (""): the prompt of the unconditional estimate (conditions come from conditions.py's cache);
- `image_size`, `channels`, `to_model(x)` / `to_unit(x)`: its value range against [0, 1] images;
- `display_size`: the side of the images it shows (after upsampling);
- `upsample(x, cond, null, generator)`: a higher-resolution version for display (identity where there is none).
"""

from typing import Protocol

import torch


class DiffusionModel(Protocol):
    name: str
    alphas_cumprod: torch.Tensor
    num_train_timesteps: int
    image_size: int
    display_size: int
    channels: int
    null_prompt: str
    predicts_variance: bool
    device: torch.device

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def to_model(self, x: torch.Tensor) -> torch.Tensor: ...

    def to_unit(self, x: torch.Tensor) -> torch.Tensor: ...

    def upsample(self, x: torch.Tensor, cond: torch.Tensor, null: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor: ...
