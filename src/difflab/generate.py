"""Sampling digits from a trained MNIST DDPM (SPEC B2/B3): the time-conditioned model unguided, the
class-conditioned one with classifier-free guidance through the part A engine. Used by the sampling figures and
by the evaluation stages."""

from collections.abc import Callable

import torch

from .ddpm import linear_alphas_cumprod, sample
from .diffusion.algorithms import guided
from .diffusion.conditions import one_hot_prompts
from .diffusion.model import MnistDiffusion
from .unet import UNet


@torch.no_grad()
def generate(unet: UNet, meta: dict, x_T: torch.Tensor, generator: torch.Generator,
             digits: list[int] | None = None, guidance_scale: float = 1.0,
             on_step: Callable[[int, int, torch.Tensor], None] | None = None,
             progress: str | None = None) -> torch.Tensor:
    """Denoise x_T over all T steps. The class-conditioned model needs `digits` (one per image)."""
    T, device = meta["num_timesteps"], x_T.device
    if unet.conditioning == "class":
        if digits is None or len(digits) != len(x_T):
            raise ValueError(f"a class-conditioned model needs one digit per image; got {digits!r} for {len(x_T)}")
        model = MnistDiffusion(unet, meta, device)
        predict = guided(model, one_hot_prompts([str(d) for d in digits]).to(device),
                         one_hot_prompts([""]).to(device), guidance_scale)
        alphas_cumprod = model.alphas_cumprod
    else:
        def predict(x: torch.Tensor, t: int) -> torch.Tensor:
            return unet(x, torch.full((len(x),), t / T, device=device))
        alphas_cumprod = linear_alphas_cumprod(T, meta["beta_start"], meta["beta_end"])
    return sample(predict, x_T, alphas_cumprod, generator, on_step=on_step, progress=progress)
