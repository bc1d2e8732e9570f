"""What differs between a DDPM and a flow model, behind one small interface, so that every part A algorithm
(parta/algorithms.py) is written once and runs on both: a Process says

- `grid(num_steps)`: the times a sampler visits, from noise towards data (a DDPM's descending timesteps, a flow's
  ascending times in [0, 1)), and `end`, the time of the clean image after the last step (-1, resp. 1.0);
- `noisy(x0, t, eps)`: the forward process (a DDPM) or the interpolation (a flow) at time t;
- `clean(x_t, t, estimate)`: the one-step estimate of the clean image from the model's output (noise, velocity);
- `sample(predict, x, grid, i_start, generator, ...)`: the steps from grid[i_start] to the clean image (the DDPM
  posterior step or DDIM's; Euler's);
- `index(start, grid)`: where a start knob (a DDPM's index i_start, a flow's time t_start) sits on the grid, and
  `walk(start, grid)`: the grid a run from that start walks and where on it it begins (a flow from any time in
  [0, 1): off the grid, its own times, the last step shortened to land on 1).
The words figures use for its times, starts, formulas and sampler are reporting/wording.py's.

A model's estimate at t combines linearly (guidance, anagram views, factorized components) in both: the clean
estimate is affine in the noise estimate and in the velocity alike.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

from difflab.core import ddpm, flow
from difflab.core.noise import Generators
from difflab.core.predictor import Predictor
from difflab.core.timesteps import timesteps
from difflab.errors import InputError

OnStep = Callable[[int, float, torch.Tensor], torch.Tensor | None]


class Process(Protocol):
    end: float

    def grid(self, num_steps: int | None = None) -> list: ...

    def noisy(self, x0: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor: ...

    def clean(self, x_t: torch.Tensor, t, estimate: torch.Tensor) -> torch.Tensor: ...

    def sample(self, predict: Predictor, x: torch.Tensor, grid: Sequence, i_start: int, generator: Generators,
               on_step: OnStep | None = None, progress: str | None = None) -> torch.Tensor: ...

    def index(self, start, grid: Sequence) -> int: ...

    def walk(self, start, grid: Sequence) -> tuple[list, int]: ...


def check_i_start(grid: Sequence, i_start: int, what: str = "strided timesteps") -> None:
    """i_start indexes the grid (a DDPM's strided timesteps, a flow's times); InputError naming the grid otherwise."""
    if not 0 <= i_start < len(grid):
        raise InputError(f"i_start={i_start}; allowed: 0 .. {len(grid) - 1} "
                         f"(the schedule has {len(grid)} {what}, {grid[0]:g} .. {grid[-1]:g})")


@dataclass(frozen=True)
class DDPMProcess:
    """A DDPM on the noise schedule alpha_bar (float64), sampled down every `stride`-th timestep by the posterior
    step (eta None) with noise of the named `variance`, or by DDIM's (eta in [0, 1])."""
    alphas_cumprod: torch.Tensor = field(repr=False)
    stride: int = 1
    eta: float | None = None
    variance: str = "fixed_small"
    end = -1

    @property
    def num_train_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    def grid(self, num_steps: int | None = None) -> list[int]:
        """Every stride-th timestep down to 0, or num_steps of them spread evenly."""
        T = self.num_train_timesteps
        return timesteps(T, num_steps=num_steps) if num_steps is not None else timesteps(T, stride=self.stride)

    def noisy(self, x0: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        return ddpm.add_noise(x0, eps, self.alphas_cumprod[t].item())

    def clean(self, x_t: torch.Tensor, t: int, estimate: torch.Tensor) -> torch.Tensor:
        return ddpm.predict_x0(x_t, estimate, self.alphas_cumprod[t].item())

    def sample(self, predict: Predictor, x: torch.Tensor, grid: Sequence[int], i_start: int, generator: Generators,
               on_step: OnStep | None = None, progress: str | None = None) -> torch.Tensor:
        check_i_start(grid, i_start)
        return ddpm.sample(predict, x, self.alphas_cumprod, generator, grid[i_start:], on_step, progress, self.eta,
                           self.variance)

    def index(self, start: int, grid: Sequence[int]) -> int:
        """A DDPM's start knob is the index i_start into the strided timesteps (a whole number: 2.0 is 2)."""
        if isinstance(start, bool) or not float(start).is_integer():
            raise InputError(f"i_start={start}; allowed: a whole number 0 .. {len(grid) - 1} (an index into the "
                             f"{len(grid)} strided timesteps, {grid[0]} .. {grid[-1]})")
        check_i_start(grid, int(start))
        return int(start)

    def walk(self, start: int, grid: Sequence[int]) -> tuple[list[int], int]:
        """A DDPM starts on its strided grid: the grid and the index i_start."""
        return list(grid), self.index(start, grid)


@dataclass(frozen=True)
class FlowProcess:
    """A linear flow (core/flow.py: x_t = (1 - t) eps + t x1, time 0 = noise, 1 = image) sampled by Euler steps of
    `step` (h = 1 / n for a whole number n of steps: the course's h = 0.02 is 50 steps)."""
    step: float = 0.02
    end = 1.0

    def __post_init__(self):  # the schema's rule (knobs: whole Euler steps), asserted below the entry
        assert 0 < self.step <= 1 and math.isclose(1 / self.step, round(1 / self.step), abs_tol=1e-9), self.step

    @property
    def num_steps(self) -> int:
        return round(1 / self.step)

    def grid(self, num_steps: int | None = None) -> list[float]:
        """The n times i / n, i = 0 .. n - 1, each Euler step starts at (computed as flow.euler_sample does)."""
        n = self.num_steps if num_steps is None else num_steps
        if not isinstance(n, int) or n < 1:
            raise InputError(f"num_steps={n!r}; allowed: an integer >= 1")
        return [i * (1.0 / n) for i in range(n)]

    def noisy(self, x0: torch.Tensor, t: float, eps: torch.Tensor) -> torch.Tensor:
        return flow.interpolate(eps, x0, t)

    def clean(self, x_t: torch.Tensor, t: float, estimate: torch.Tensor) -> torch.Tensor:
        return x_t + (1 - t) * estimate

    def sample(self, predict: Predictor, x: torch.Tensor, grid: Sequence[float], i_start: int, generator: Generators,
               on_step: OnStep | None = None, progress: str | None = None) -> torch.Tensor:
        """Euler from grid[i_start] to 1 (deterministic: the generator is not used): on the grid of i / n, steps of
        1 / n; on the times of walk() from a start off it, steps of h, the last one shortened to land on 1."""
        grid = list(grid)
        check_i_start(grid, i_start, "times")
        if grid == self.grid(len(grid)):
            return flow.euler_sample(predict, x, len(grid), on_step, progress, start=i_start)
        assert 0 <= grid[0] and grid[-1] < 1 and all(a < b for a, b in zip(grid, grid[1:])), \
            f"a flow's times (from walk) must increase within [0, 1); got {grid[:3]}..."
        return flow.euler_over(predict, x, grid[i_start:], on_step, progress)

    def index(self, start: float, grid: Sequence[float]) -> int:
        """A flow's start knob is a time t_start on the grid (0.02 = after one step of 0.02 from pure noise)."""
        n = len(grid)
        i = round(start * n)
        if not (0 <= i < n and math.isclose(i / n, start, abs_tol=1e-9)):
            raise InputError(f"t_start={start}; allowed: a time i / {n} on the grid of Euler steps in [0, 1) "
                             f"(0, {1 / n:g}, {2 / n:g}, ..., {(n - 1) / n:g})")
        return i

    def walk(self, start: float, grid: Sequence[float]) -> tuple[list[float], int]:
        """Euler from any time t_start in [0, 1): on the grid (t_start = i / n) the grid itself from index i, as
        before; off it, the times t_start, t_start + h, ... below 1, the last step shortened to land on 1 exactly
        (the course's reference Euler: 0.33 with h = 0.1 steps through 0.43 ... 0.93, then 0.07 to 1)."""
        if isinstance(start, bool) or not 0 <= start < 1:
            raise InputError(f"t_start={start}; allowed: a time in [0, 1) (0 = pure noise; on the grid of Euler "
                             f"steps {1 / len(grid):g}, or anywhere between, the last step then shortened)")
        try:
            return list(grid), self.index(start, grid)
        except InputError:  # off the grid: its own times, h apart
            times = [start + k * self.step for k in range(math.ceil((1 - start) / self.step) + 1)]
            return [t for t in times if t < 1 - 1e-9], 0
