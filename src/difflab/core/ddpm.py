"""DDPM on a linear-beta schedule (SPEC B2/B3): forward noising, the posterior step, sampling, CFG; and DDIM's step
(Song et al. 2021), which samples the same trained model deterministically (eta = 0) or with any part of the noise.

Everything here takes a noise schedule as the cumulative products alpha_bar, so the same posterior step serves
the MNIST DDPM (stride 1, T = 300) and strided samplers over any other schedule.
"""

import math
from collections.abc import Callable, Sequence

import torch

from difflab.core.guidance import one_hot_dropout
from difflab.core.noise import Generators, randn
from difflab.core.predictor import Predictor
from difflab.core.timesteps import timesteps as steps_of_schedule
from difflab.progress import progress as progress_bar


def linear_alphas_cumprod(num_timesteps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s), betas = linspace(beta_start, beta_end, T); float64 for accuracy."""
    # the schema's ddpm section refuses other knobs, naming them; a checkpoint records the knobs it trained with
    assert num_timesteps >= 2 and 0 < beta_start <= beta_end < 1, (num_timesteps, beta_start, beta_end)
    betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def add_noise(x0: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor | float) -> torch.Tensor:
    """Forward process: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (alpha_bar per sample or scalar)."""
    alpha_bar = torch.as_tensor(alpha_bar, dtype=x0.dtype, device=x0.device)
    alpha_bar = alpha_bar.reshape(-1, *([1] * (x0.dim() - 1))) if alpha_bar.dim() else alpha_bar
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """One-step estimate: x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    return (x_t - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar ** 0.5


def posterior_mean(x_t: torch.Tensor, x0_hat: torch.Tensor, alpha_bar: float, alpha_bar_prev: float) -> torch.Tensor:
    """Mean of q(x_{t'} | x_t, x0) for t' < t, with alpha_t = alpha_bar / alpha_bar' and beta_t = 1 - alpha_t:
    sqrt(alpha_bar') beta_t / (1 - alpha_bar) * x0_hat + sqrt(alpha_t) (1 - alpha_bar') / (1 - alpha_bar) * x_t."""
    alpha = alpha_bar / alpha_bar_prev
    beta = 1 - alpha
    return (alpha_bar_prev ** 0.5 * beta / (1 - alpha_bar)) * x0_hat + (
        alpha ** 0.5 * (1 - alpha_bar_prev) / (1 - alpha_bar)) * x_t


# The noise a DDPM step t -> t' adds, by the names diffusers' DDPMScheduler gives them (its `variance_type`).
FIXED_VARIANCES = ("fixed_small", "fixed_large")
VARIANCES = (*FIXED_VARIANCES, "learned_range")


def step_std(alpha_bar: float, alpha_bar_prev: float, variance: str = "fixed_small", span: int = 1,
             predicted_variance: torch.Tensor | None = None):
    """Standard deviation of the noise added on the step t -> t' = t - span, with beta = 1 - alpha_bar / alpha_bar'
    (the forward process's noise over the span) and beta_tilde = (1 - alpha_bar') / (1 - alpha_bar) * beta (the
    variance of the posterior q(x_t' | x_t, x0)):
    - fixed_small: sqrt(beta_tilde), the posterior's own;
    - fixed_large: sqrt(beta);
    - learned_range (DeepFloyd IF): the model's v in [-1, 1] interpolates the log-variance between them,
      frac = (v + 1) / 2, log var = frac log(beta) + (1 - frac) log(beta_tilde).
    A step of one timestep (span 1) adds sqrt(beta_t) under either fixed choice: the spec's sampler (SPEC B2), kept
    exact. Over a span of many timesteps the two part: beta there approaches 1 - alpha_bar / alpha_bar', far above
    beta_tilde, and the surplus is noise the later steps cannot take out (the step into t' = 0 adds it at full
    strength and the model at t = 0 was trained to remove noise of std sqrt(1 - alpha_bar_0) = 0.01), so a strided
    DDPM with fixed_large leaves grain in its samples. That is why fixed_small is the default, as in diffusers.
    """
    assert variance in VARIANCES, variance
    beta = 1 - alpha_bar / alpha_bar_prev
    beta_tilde = max((1 - alpha_bar_prev) / (1 - alpha_bar) * beta, 1e-20)
    if variance == "learned_range":  # on a model that predicts none, refused at part A's entry (check_against_model)
        assert predicted_variance is not None, "variance='learned_range' needs a model that predicts its variance"
        frac = (predicted_variance + 1) / 2
        return torch.exp(0.5 * (frac * math.log(beta) + (1 - frac) * math.log(beta_tilde)))
    return (beta if variance == "fixed_large" or span == 1 else beta_tilde) ** 0.5


def ddim_std(alpha_bar: float, alpha_bar_prev: float, eta: float) -> float:
    """sigma_t of DDIM's step t -> t': eta sqrt((1 - alpha_bar') / (1 - alpha_bar)) sqrt(1 - alpha_bar / alpha_bar').
    eta = 0: deterministic; eta = 1: the posterior's standard deviation sqrt(beta_tilde) (the course's DDPM step,
    step_std, adds sqrt(beta_t) on a step of one timestep, a little more)."""
    return eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)) ** 0.5


def ddim_step(x0_hat: torch.Tensor, eps: torch.Tensor, alpha_bar_prev: float, std: float) -> torch.Tensor:
    """The mean of DDIM's step: x_t' = sqrt(alpha_bar') x0_hat + sqrt(1 - alpha_bar' - sigma^2) eps (+ sigma z)."""
    return alpha_bar_prev ** 0.5 * x0_hat + max(1 - alpha_bar_prev - std * std, 0.0) ** 0.5 * eps


@torch.no_grad()
def sample(predict: Predictor, x_T: torch.Tensor, alphas_cumprod: torch.Tensor, generator: Generators,
           timesteps: Sequence[int] | None = None,
           on_step: Callable[[int, int, torch.Tensor], torch.Tensor | None] | None = None,
           progress: str | None = None, eta: float | None = None, variance: str = "fixed_small") -> torch.Tensor:
    """Iterative denoising from x_T, which sits at timesteps[0], down the given descending timesteps (default T-1..0).

    Each step: x0_hat from the predicted noise, then
    - DDPM (eta None): x_t' = posterior mean(x0_hat, x_t) + std * z, std by `variance` (step_std: fixed_small,
      fixed_large, or learned_range for a model that predicts its variance);
    - DDIM (eta in [0, 1]): x_t' = ddim_step(x0_hat, eps) + sigma * z (ddim_std; eta = 0: no noise at all, so x_T
      alone decides the result; a predicted variance is not used).
    No noise on the last step. The noise z comes from `generator`, or from one generator per image (noise.randn), so
    that an image's samples do not depend on its batch. on_step(i, t', x) runs after step i with x now at t' (-1 =
    clean); a tensor it returns replaces x (RePaint uses that). A `progress` label shows a progress bar.
    """
    ts = steps_of_schedule(len(alphas_cumprod)) if timesteps is None else list(timesteps)
    # the grid comes from timesteps() through a Process, checked where the user gave its knobs
    assert ts and all(a > b for a, b in zip(ts, ts[1:])) and 0 <= ts[-1] <= ts[0] < len(alphas_cumprod), \
        f"timesteps must descend within [0, {len(alphas_cumprod) - 1}], got {ts[:3]}...{ts[-3:]}"
    # the schema's knobs (ddim_eta: a Fraction; variance: one of VARIANCES) where the user gave them
    assert (eta is None or 0 <= eta <= 1) and variance in VARIANCES, (eta, variance)
    ab = alphas_cumprod.tolist()
    x = x_T
    for i, t in enumerate(progress_bar(ts, desc=progress, disable=progress is None)):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        ab_t, ab_prev = ab[t], (ab[t_prev] if t_prev >= 0 else 1.0)
        out = predict(x, t)
        eps, predicted = out if isinstance(out, tuple) else (out, None)
        x0_hat = predict_x0(x, eps, ab_t)
        last = t_prev < 0
        if eta is None:  # DDPM
            x = posterior_mean(x, x0_hat, ab_t, ab_prev)
            std = None if last else step_std(ab_t, ab_prev, variance, t - t_prev, predicted)
        else:  # DDIM
            std = None if last or eta == 0 else ddim_std(ab_t, ab_prev, eta)
            x = ddim_step(x0_hat, eps, ab_prev, std or 0.0)
        if std is not None:
            x = x + std * randn(x.shape, generator, x.device, x.dtype)
        if on_step is not None:
            replaced = on_step(i, t_prev, x)
            x = x if replaced is None else replaced
    return x


def ddpm_loss(alphas_cumprod: torch.Tensor, conditioning: str, p_uncond: float = 0.0):
    """The training loss of SPEC B2/B3: t ~ U{0..T-1}, x_t = forward(x0, eps), MSE between eps and eps_theta(x_t, t/T)
    (and the class vector, dropped to zeros with probability p_uncond, for the class-conditioned model)."""
    num_timesteps = len(alphas_cumprod)
    table = alphas_cumprod.float()

    def loss(model, x0: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        t = torch.randint(0, num_timesteps, (len(x0),), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = add_noise(x0, eps, table.to(x0.device)[t])
        c = one_hot_dropout(labels, p_uncond, generator) if conditioning == "class" else None
        return torch.nn.functional.mse_loss(model(x_t, t.float() / num_timesteps, c), eps)
    return loss

