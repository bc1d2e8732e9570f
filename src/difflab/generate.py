"""Sampling digits from a trained MNIST DDPM (SPEC B2/B3): the time-conditioned model unguided, the
class-conditioned one with classifier-free guidance through the part A engine. Used by the sampling figures and
by the evaluation stages."""

from collections.abc import Callable

import torch

from .ddpm import linear_alphas_cumprod, sample
from .diffusion.algorithms import guided
from .diffusion.conditions import one_hot_prompts
from .diffusion.model import MnistDiffusion
from .runtime import Runtime
from .unet import UNet


@torch.no_grad()
def generate(unet: UNet, meta: dict, x_T: torch.Tensor, generator: torch.Generator,
             digits: list[int] | None = None, guidance_scale: float = 1.0,
             on_step: Callable[[int, int, torch.Tensor], None] | None = None,
             progress: str | None = None, runtime: Runtime | None = None,
             batch_size: int | None = None) -> torch.Tensor:
    """Denoise x_T over all T steps. The class-conditioned model needs `digits` (one per image).

    Images go through the model batch_size at a time (all at once by default; with CFG each call holds the
    conditional and the unconditional estimate of a batch, 2 x batch_size images); on_step sees each batch in turn.
    `runtime` sets device precision and memory format (default: fp32 on x_T's device).
    """
    T = meta["num_timesteps"]
    runtime = runtime or Runtime(x_T.device, "fp32")
    if unet.conditioning == "class":
        if digits is None or len(digits) != len(x_T):
            raise ValueError(f"a class-conditioned model needs one digit per image; got {digits!r} for {len(x_T)}")
        model = MnistDiffusion(unet, meta, runtime=runtime)
        null = one_hot_prompts([""]).to(runtime.device)
        alphas_cumprod = model.alphas_cumprod

        def predictor(lo: int, hi: int):
            return guided(model, one_hot_prompts([str(d) for d in digits[lo:hi]]).to(runtime.device), null,
                          guidance_scale)
    else:
        unet = runtime.prepare(unet.eval())
        alphas_cumprod = linear_alphas_cumprod(T, meta["beta_start"], meta["beta_end"])

        def predict(x: torch.Tensor, t: int) -> torch.Tensor:
            with runtime.autocast():
                eps = unet(x, torch.full((len(x),), t / T, device=x.device))
            return eps.float()

        def predictor(lo: int, hi: int):
            return predict
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; allowed: an integer >= 1")
    batch_size = batch_size or len(x_T)
    out = []
    for lo in range(0, len(x_T), batch_size):
        hi = min(lo + batch_size, len(x_T))
        label = progress if progress is None or hi - lo == len(x_T) else f"{progress} [{lo}:{hi}]"
        out.append(sample(predictor(lo, hi), x_T[lo:hi], alphas_cumprod, generator, on_step=on_step,
                          progress=label))
    return torch.cat(out)
