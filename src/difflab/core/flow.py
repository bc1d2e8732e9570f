"""Flow matching (the course's part B since 2025, "Flow Matching from Scratch!"): the UNet learns a velocity field
that carries noise to digits along straight lines, and samples by integrating it with Euler steps.

Time runs from noise to data: x_t = (1 - t) x_0 + t x_1 with x_0 ~ N(0, I), x_1 a digit, t ~ U[0, 1]; the target
velocity along that line is x_1 - x_0. Sampling starts at pure noise (t = 0) and steps to t = 1.
"""

from collections.abc import Callable

import torch

from difflab.core.guidance import one_hot_dropout
from difflab.core.predictor import Predictor
from difflab.progress import progress as progress_bar


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t x1, t per sample (N,) or a scalar."""
    t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
    t = t.reshape(-1, *([1] * (x0.dim() - 1))) if t.dim() else t
    return (1 - t) * x0 + t * x1


def flow_loss(conditioning: str, p_uncond: float = 0.0):
    """The training loss: t ~ U[0, 1], x_0 ~ N(0, I), MSE between u_theta(x_t, t) and x_1 - x_0 (and the class
    vector, dropped to zeros with probability p_uncond, for the class-conditioned model)."""
    def loss(model, x1: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
        t = torch.rand(len(x1), generator=generator, device=x1.device, dtype=x1.dtype)
        c = one_hot_dropout(labels, p_uncond, generator) if conditioning == "class" else None
        return torch.nn.functional.mse_loss(model(interpolate(x0, x1, t), t, c), x1 - x0)
    return loss


@torch.no_grad()
def euler_sample(predict: Predictor, x0: torch.Tensor, num_steps: int,
                 on_step: Callable[[int, float, torch.Tensor], torch.Tensor | None] | None = None,
                 progress: str | None = None, start: int = 0) -> torch.Tensor:
    """Integrate dx/dt = u(x, t) from t = 0 (x0, noise) to t = 1 with num_steps Euler steps of 1 / num_steps:
    x <- x + u(x, i / num_steps) / num_steps. Deterministic: all the randomness is in x0. From step `start` on, x0
    is taken to sit at t = start / num_steps (part A's SDEdit: an image interpolated towards noise).

    on_step(k, t, x) runs after the k-th step taken (0 first, as ddpm.sample counts) with x now at time t (1.0
    after the last); a tensor it returns replaces x.
    A `progress` label shows a progress bar."""
    # checked where the user gave them (FlowProcess.grid, check_i_start)
    assert isinstance(num_steps, int) and num_steps >= 1, f"num_steps={num_steps!r}; allowed: an integer >= 1"
    assert isinstance(start, int) and 0 <= start < num_steps, f"start={start!r}; allowed: 0 .. {num_steps - 1}"
    x, dt = x0, 1.0 / num_steps
    for k, i in enumerate(progress_bar(range(start, num_steps), desc=progress, disable=progress is None)):
        out = predict(x, i * dt)
        x = x + dt * (out[0] if isinstance(out, tuple) else out)
        if on_step is not None:
            replaced = on_step(k, 1.0 if i + 1 == num_steps else (i + 1) * dt, x)  # exactly 1 at the end
            x = x if replaced is None else replaced
    return x


@torch.no_grad()
def euler_over(predict: Predictor, x: torch.Tensor, times: list[float],
               on_step: Callable[[int, float, torch.Tensor], torch.Tensor | None] | None = None,
               progress: str | None = None) -> torch.Tensor:
    """Integrate dx/dt = u(x, t) from x at times[0] through each of `times` (increasing, in [0, 1)) to t = 1: the
    step from times[k] spans to times[k + 1], the last one to 1 exactly (a start off the grid of i / n: every step
    h but the last, shortened to land on 1, as the course's reference Euler). on_step as for euler_sample."""
    ends = [*times[1:], 1.0]
    for k, (t, t_next) in enumerate(progress_bar(list(zip(times, ends)), desc=progress, disable=progress is None)):
        out = predict(x, t)
        x = x + (t_next - t) * (out[0] if isinstance(out, tuple) else out)
        if on_step is not None:
            replaced = on_step(k, t_next, x)
            x = x if replaced is None else replaced
    return x
