"""The single-step denoiser (SPEC B1): z = x + sigma * eps, trained with an L2 loss to map z back to x."""

import math

import torch
from torch import nn

from difflab.config.runtime import Runtime
from difflab.intervals import mean_interval


def add_gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    return x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def denoiser_loss(sigma: float):
    """The training loss: fresh noise for every batch, MSE between D(z) and the clean x."""
    def loss(model: nn.Module, x: torch.Tensor, _labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return nn.functional.mse_loss(model(add_gaussian_noise(x, sigma, generator)), x)
    return loss


def pure_noise_loss():
    """The course's "denoising pure noise": the same L2 loss, but the input z ~ N(0, I) carries nothing of x. The
    best any model can do is then the mean of the training digits, whatever z is: the minimiser of E ||D(z) - x||^2
    over functions of an independent z is E[x]."""
    def loss(model: nn.Module, x: torch.Tensor, _labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return nn.functional.mse_loss(model(torch.randn(x.shape, generator=generator, device=x.device,
                                                        dtype=x.dtype)), x)
    return loss


def psnr(mse: float, peak: float = 1.0) -> float | None:
    """Peak signal-to-noise ratio in dB; None where there is no error at all (sigma = 0 on the noisy input)."""
    return 10 * math.log10(peak ** 2 / mse) if mse > 0 else None


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, sigma: float, generator: torch.Generator,
             batch_size: int = 1000, runtime: Runtime | None = None) -> dict[str, float]:
    """Test MSE and PSNR of the denoised images, beside those of the noisy input (what doing nothing scores), and
    the denoised PSNR's 95 % interval over the n test images (psnr_db_lo, psnr_db_hi: the PSNR at the MSE's interval,
    the mean of the images' MSEs +- 1.96 standard errors). The model runs in the runtime's precision (default fp32);
    errors are summed in fp32."""
    model.eval()
    runtime = runtime or Runtime(images.device, "fp32")
    sq_out = sq_in = 0.0
    per_image = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        z = add_gaussian_noise(x, sigma, generator)
        with runtime.autocast():
            out = model(z)
        error = (out.float() - x).pow(2)
        sq_out += error.sum().item()
        sq_in += (z - x).pow(2).sum().item()
        per_image += error.flatten(1).mean(1).tolist()
    n = images.numel()
    _, lo, hi = mean_interval(per_image)  # the MSE's: the PSNR falls as the MSE grows
    return {"mse": sq_out / n, "psnr_db": psnr(sq_out / n), "psnr_db_lo": psnr(hi), "psnr_db_hi": psnr(max(lo, 0.0)),
            "n": len(images), "noisy_mse": sq_in / n, "noisy_psnr_db": psnr(sq_in / n)}
