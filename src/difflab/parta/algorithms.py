"""The part A algorithms, once, over the DiffusionModel interface (model.py). Images are in the model's range.

The anagram (views.py) and factorized (hybrids: frequency bands, grayscale / colour) predictors build on
core/predictor.py's guided one and batch all their model calls into one `predict`.
"""

from collections.abc import Callable, Sequence

import torch

from difflab.core import ddpm
from difflab.core.predictor import Prediction, Predictor, conditional, expand, guided
from difflab.errors import InputError
from difflab.parta.model import DiffusionModel
from difflab.core.views import Transform, View


def forward(model: DiffusionModel, x0: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (A1.1)."""
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return ddpm.add_noise(x0, eps, model.alphas_cumprod[t].item())


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """The classical denoiser (A1.2), and the low-pass filter of hybrid images (A1.9)."""
    if kernel_size < 1 or kernel_size % 2 == 0 or kernel_size // 2 >= min(x.shape[-2:]):
        raise InputError(f"kernel_size={kernel_size}; allowed: an odd number below {2 * min(x.shape[-2:])} "
                         f"for {x.shape[-1]}x{x.shape[-2]} images")
    import torchvision.transforms.functional as TF  # here, not at the top: only the stages that blur pay its import

    return TF.gaussian_blur(x, [kernel_size, kernel_size], [sigma, sigma])


def anagram(model: DiffusionModel, conds: Sequence[torch.Tensor], null: torch.Tensor, scale: float,
            views: Sequence[View]) -> Predictor:
    """Visual anagrams (A1.8) over any orthogonal views: eps = mean_k view_k^-1(eps_cfg(view_k(x), p_k)), so that
    through view k the image follows prompt k; the guided estimates of all views in one batched model call (the
    course's anagram: views identity and flip). A predicted variance is averaged the same way, unsigned."""
    if len(conds) != len(views):
        raise ValueError(f"{len(conds)} conditions for {len(views)} views; allowed: one condition per view")

    def predict(x: torch.Tensor, t: int) -> Prediction:
        n, k = len(x), len(views)
        eps, var = guided(model, torch.cat([expand(c, n) for c in conds]), torch.cat([expand(null, n)] * k),
                          scale)(torch.cat([v(x) for v in views]), t)
        eps = sum(v.inverse(e) for v, e in zip(views, eps.chunk(k))) / k
        var = None if var is None else sum(v.unpermute(e) for v, e in zip(views, var.chunk(k))) / k
        return eps, var
    return predict


def factorized(model: DiffusionModel, conds: Sequence[torch.Tensor], null: torch.Tensor, scale: float,
               components: Sequence[Transform]) -> Predictor:
    """Factorized diffusion (A1.9; Geng et al., "Factorized Diffusion", ECCV 2024): eps = sum_k f_k(eps_cfg(x, p_k))
    for linear components f_k that sum to the identity, so component k of the image follows prompt k; all guided
    estimates in one batched call. Hybrid images: frequency_bands with one blur (low pass, high pass)."""
    if len(conds) != len(components):
        raise ValueError(f"{len(conds)} conditions for {len(components)} components; allowed: one per component")

    def predict(x: torch.Tensor, t: int) -> Prediction:
        n, k = len(x), len(components)
        eps, var = guided(model, torch.cat([expand(c, n) for c in conds]), torch.cat([expand(null, n)] * k),
                          scale)(torch.cat([x] * k), t)
        eps = sum(f(e) for f, e in zip(components, eps.chunk(k)))
        var = None if var is None else sum(var.chunk(k)) / k
        return eps, var
    return predict


def frequency_bands(blurs: Sequence[tuple[int, float]]) -> list[Transform]:
    """Components from low to high frequencies for Gaussian blurs G_1, ..., G_m (kernel size, sigma), widest first:
    [G_1, G_2 - G_1, ..., G_m - G_(m-1), I - G_m]; one blur gives the hybrid's low pass and high pass."""
    if any(a[1] <= b[1] for a, b in zip(blurs, blurs[1:])):
        raise InputError(f"blurs {list(blurs)}: sigmas must decrease (the widest blur, the lowest band, first)")
    low_passes = [lambda e, k=k, s=s: gaussian_blur(e, k, s) for k, s in blurs]
    bands = [low_passes[0]]
    bands += [lambda e, hi=hi, lo=lo: hi(e) - lo(e) for lo, hi in zip(low_passes, low_passes[1:])]
    return bands + [lambda e: e - low_passes[-1](e)]


def band_views(x: torch.Tensor, blurs: Sequence[tuple[int, float]]) -> list[torch.Tensor]:
    """How each band's prompt is seen, lowest band first: through the widest blur (from afar), through each narrower
    one, and the image itself (up close)."""
    return [gaussian_blur(x, k, s) for k, s in blurs] + [x]


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """The channel mean in every channel: the grayscale component of a colour image (its colour part is x - it)."""
    if x.shape[1] < 2:
        raise InputError(f"{x.shape[1]}-channel images have no colour: the grayscale / colour factorization needs "
                         "colour images (DeepFloyd IF's, not the MNIST model's)")
    return x.mean(1, keepdim=True).expand_as(x)


def gray_and_color() -> list[Transform]:
    """Components [grayscale, colour]: an image whose grayscale follows one prompt and its colour another."""
    return [grayscale, lambda e: e - grayscale(e)]


def one_step_denoise(model: DiffusionModel, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> torch.Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t) (A1.3)."""
    eps, _ = conditional(model, cond)(x_t, t)
    return ddpm.predict_x0(x_t, eps, model.alphas_cumprod[t].item())


def iterative_denoise(model: DiffusionModel, x_t: torch.Tensor, timesteps: Sequence[int], i_start: int,
                      predictor: Predictor, generator: torch.Generator,
                      on_step: Callable[[int, int, torch.Tensor], torch.Tensor | None] | None = None,
                      progress: str | None = None, eta: float | None = None,
                      variance: str = "fixed_small") -> torch.Tensor:
    """Denoise x_t, which sits at timesteps[i_start], down the rest of the strided schedule (A1.4 - A1.6): by the
    DDPM posterior step (eta None) with noise of the named `variance`, or by DDIM's (eta in [0, 1]; 0 =
    deterministic)."""
    check_i_start(timesteps, i_start)
    return ddpm.sample(predictor, x_t, model.alphas_cumprod, generator, timesteps[i_start:], on_step, progress, eta,
                       variance)


def check_i_start(timesteps: Sequence[int], i_start: int) -> None:
    if not 0 <= i_start < len(timesteps):
        raise InputError(f"i_start={i_start}; allowed: 0 .. {len(timesteps) - 1} "
                         f"(the schedule has {len(timesteps)} strided timesteps, {timesteps[0]} .. {timesteps[-1]})")


def sdedit(model: DiffusionModel, x0: torch.Tensor, timesteps: Sequence[int], i_start: int, predictor: Predictor,
           generator: torch.Generator, progress: str | None = None, eta: float | None = None,
           variance: str = "fixed_small") -> torch.Tensor:
    """SDEdit (A1.7): noise the image to timesteps[i_start], then denoise it; small i_start = large edits."""
    check_i_start(timesteps, i_start)
    x_t = forward(model, x0, timesteps[i_start], generator)
    return iterative_denoise(model, x_t, timesteps, i_start, predictor, generator, progress=progress, eta=eta,
                             variance=variance)


def inpaint(model: DiffusionModel, x_orig: torch.Tensor, mask: torch.Tensor, timesteps: Sequence[int],
            predictor: Predictor, generator: torch.Generator, progress: str | None = None,
            observe: Callable[[int, torch.Tensor], None] | None = None, eta: float | None = None,
            variance: str = "fixed_small") -> torch.Tensor:
    """RePaint (A1.7.2): denoise from pure noise and, after every step, put back the original where mask = 0:
    x_t' <- m x_t' + (1 - m) forward(x_orig, t'); at the end (t' = -1) the original itself.
    observe(t', x) sees each projected x."""
    def keep_known(_i: int, t_prev: int, x: torch.Tensor) -> torch.Tensor:
        known = x_orig if t_prev < 0 else forward(model, x_orig, t_prev, generator)
        x = mask * x + (1 - mask) * known
        if observe is not None:
            observe(t_prev, x)
        return x

    x_T = torch.randn(x_orig.shape, generator=generator, device=x_orig.device, dtype=x_orig.dtype)
    return iterative_denoise(model, x_T, timesteps, 0, predictor, generator, on_step=keep_known, progress=progress,
                             eta=eta, variance=variance)
