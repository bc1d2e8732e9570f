"""The part A algorithms, once: over a model's Process (core/processes.py: a DDPM's or a flow's noising, clean
estimate and steps) and any predictor, so that each runs on DeepFloyd IF, the class DDPM and the class flow model.
Images are in the model's range; times are the process's (a DDPM's timestep indices, a flow's times in [0, 1]).

The anagram (views.py) and factorized (hybrids: frequency bands, grayscale / colour) predictors build on
core/predictor.py's guided one and batch all their model calls into one `predict`; they combine noise estimates
and velocities alike (both linear in the clean estimate).
"""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from difflab.core.predictor import Prediction, Predictor, expand, guided
from difflab.core.processes import OnStep, Process, check_i_start
from difflab.core.views import Transform, View
from difflab.parta.model import DiffusionModel


def forward(process: Process, x0: torch.Tensor, t, generator: torch.Generator) -> torch.Tensor:
    """The image at time t (A1.1): a DDPM's x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, a flow's
    x_t = (1 - t) eps + t x0, eps drawn from `generator`."""
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return process.noisy(x0, t, eps)


def kernel_fits(kernel_size: int, side: int) -> bool:
    """Whether a Gaussian blur of `kernel_size` applies to images of `side` x `side`: odd, and its half-width within
    the image (what the reflection padding of torchvision's blur needs): an odd number below 2 * side."""
    return kernel_size >= 1 and kernel_size % 2 == 1 and kernel_size // 2 < side


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """The classical denoiser (A1.2), and the low-pass filter of hybrid images (A1.9), on a batch (N, C, H, W):
    torchvision's gaussian_blur written out (its kernel, reflection padding and grouped convolution, so the same
    bits; tests/test_algorithms.py compares the two), since importing torchvision costs a stage about 1.8 s."""
    assert x.ndim == 4 and x.is_floating_point(), f"a float batch (N, C, H, W), not {x.dtype} {tuple(x.shape)}"
    assert kernel_fits(kernel_size, min(x.shape[-2:])), \
        f"kernel_size={kernel_size} for {tuple(x.shape[-2:])} images (checked against the model at the entry)"
    half = (kernel_size - 1) * 0.5
    pdf = torch.exp(-0.5 * (torch.linspace(-half, half, steps=kernel_size, dtype=x.dtype, device=x.device)
                            / sigma).pow(2))
    k = pdf / pdf.sum()
    kernel = torch.mm(k[:, None], k[None, :]).expand(x.shape[-3], 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    return F.conv2d(F.pad(x, [pad, pad, pad, pad], mode="reflect"), kernel, groups=x.shape[-3])


def anagram(model: DiffusionModel, conds: Sequence[torch.Tensor], null: torch.Tensor, scale: float,
            views: Sequence[View]) -> Predictor:
    """Visual anagrams (A1.8) over any orthogonal views: eps = mean_k view_k^-1(eps_cfg(view_k(x), p_k)), so that
    through view k the image follows prompt k; the guided estimates of all views in one batched model call (the
    course's anagram: views identity and flip). A predicted variance is averaged the same way, unsigned."""
    assert len(conds) == len(views), f"{len(conds)} conditions for {len(views)} views: one condition per view"

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
    assert len(conds) == len(components), f"{len(conds)} conditions for {len(components)} components: one per component"

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
    assert all(a[1] > b[1] for a, b in zip(blurs, blurs[1:])), f"blurs {list(blurs)}: sigmas must decrease"
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
    assert x.shape[1] >= 2, f"{x.shape[1]}-channel images have no colour (checked against the model at the entry)"
    return x.mean(1, keepdim=True).expand_as(x)


def gray_and_color() -> list[Transform]:
    """Components [grayscale, colour]: an image whose grayscale follows one prompt and its colour another."""
    return [grayscale, lambda e: e - grayscale(e)]


def one_step_denoise(process: Process, x_t: torch.Tensor, t, predictor: Predictor) -> torch.Tensor:
    """The clean image estimated in one step from the predictor's output at t (A1.3): a DDPM's
    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t), a flow's x1_hat = x_t + (1 - t) u_hat."""
    return process.clean(x_t, t, predictor(x_t, t)[0])


def predicted_update(process: Process, x_t: torch.Tensor, t, predictor: Predictor) -> torch.Tensor:
    """The update from x_t to the clean image that the predictor implies at t (the course's 1.4, "visualizing
    velocity"): the one-step estimate less x_t, a flow's (1 - t) u_hat, a DDPM's x0_hat - x_t. The true update is
    the clean image less x_t."""
    return one_step_denoise(process, x_t, t, predictor) - x_t


def iterative_denoise(process: Process, x_t: torch.Tensor, grid: Sequence, i_start: int, predictor: Predictor,
                      generator: torch.Generator, on_step: OnStep | None = None,
                      progress: str | None = None) -> torch.Tensor:
    """Denoise x_t, which sits at grid[i_start], along the rest of the process's grid to the clean image (A1.4 -
    A1.6): the DDPM's posterior step or DDIM's, or Euler's. on_step(i, t', x) after each step, x now at t'
    (process.end after the last); a tensor it returns replaces x."""
    return process.sample(predictor, x_t, grid, i_start, generator, on_step, progress)


def sdedit(process: Process, x0: torch.Tensor, grid: Sequence, i_start: int, predictor: Predictor,
           generator: torch.Generator, progress: str | None = None) -> torch.Tensor:
    """SDEdit (A1.7): the image taken to grid[i_start] by the forward process, then denoised; a start near the
    noise end of the grid (small i_start) = large edits."""
    check_i_start(grid, i_start)
    x_t = forward(process, x0, grid[i_start], generator)
    return iterative_denoise(process, x_t, grid, i_start, predictor, generator, progress=progress)


def inpaint(process: Process, x_orig: torch.Tensor, mask: torch.Tensor, grid: Sequence, predictor: Predictor,
            generator: torch.Generator, progress: str | None = None,
            observe: Callable[[float, torch.Tensor], None] | None = None) -> torch.Tensor:
    """RePaint (A1.7.2): denoise from pure noise and, after every step, put back the original where mask = 0:
    x_t' <- m x_t' + (1 - m) forward(x_orig, t'); after the last step (t' = process.end) the original itself.
    observe(t', x) sees each projected x."""
    def keep_known(_i: int, t_next, x: torch.Tensor) -> torch.Tensor:
        known = x_orig if t_next == process.end else forward(process, x_orig, t_next, generator)
        x = mask * x + (1 - mask) * known
        if observe is not None:
            observe(t_next, x)
        return x

    x_T = torch.randn(x_orig.shape, generator=generator, device=x_orig.device, dtype=x_orig.dtype)
    return iterative_denoise(process, x_T, grid, 0, predictor, generator, on_step=keep_known, progress=progress)
