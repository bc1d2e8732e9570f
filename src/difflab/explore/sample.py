"""The Sample tab's work, free of the page: a grid of digits from a run's model drawn exactly as the sample stages
draw theirs (sampling/grids.py: one seeded noise stream per image, then generate() taking the images
sample_batch_size at a time), so the explorer's image for a seed and the run's sample_batch_size equals the
library's, and the judge's label and confidence for each digit. Another batch size draws the same digits only up to
the kernels' rounding: a batch of another shape may be computed by other kernels (on an Intel Xeon with AMX, for
one), whose last bits differ."""

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.config.runtime import Runtime
from difflab.core.ddpm import FIXED_VARIANCES
from difflab.core.objectives import objective_of
from difflab.errors import InputError
from difflab.explore.steps import SCALE, Frames, picture, stop_if, watched  # noqa: F401 (SCALE, picture: re-exported)
from difflab.models.judge import Judge, judge_outputs
from difflab.models.unet import UNet
from difflab.reporting.wording import WORDING, wording
from difflab.sampling.generate import steps_of
from difflab.sampling.grids import draw_digits

SAMPLERS = (*WORDING["ddpm"].samplers, *WORDING["flow"].samplers)  # the samplers on the page; each model takes its objective's
MAX_ROWS = 10
MAX_FLOW_STEPS = 1000  # flow matching has no T; the explorer stops here to stay responsive


@dataclass(frozen=True)
class Settings:
    """What one grid asks for: the digits of a row (a class-conditioned model; a time-conditioned one draws
    len(digits) of its own choosing a row), rows, CFG scale, steps, sampler (SAMPLERS), DDIM's eta, the DDPM step's
    variance, and the seed of the noise."""
    digits: tuple[int, ...]
    rows: int
    guidance_scale: float
    num_steps: int
    sampler: str
    eta: float
    variance: str
    seed: int


def parse_digits(text: str) -> tuple[int, ...]:
    """"0-9", "3 5 7", "1,4-6" -> the digits in that order; InputError naming the text otherwise."""
    digits: list[int] = []
    for part in re.split(r"[\s,]+", (text or "").strip()):
        if not part:
            continue
        span = re.fullmatch(r"(\d)(?:-(\d))?", part)
        if not span or (span[2] and int(span[2]) < int(span[1])):
            raise InputError(f"digits {text!r}: {part!r} is not a digit or a range; allowed: digits 0-9 and ranges "
                             "such as 0-9 or 2-5, separated by spaces or commas")
        digits += range(int(span[1]), int(span[2] or span[1]) + 1)
    if not digits:
        raise InputError(f"digits {text!r}: no digit; allowed: digits 0-9 and ranges such as 0-9 or 2-5")
    return tuple(digits)


def check(s: Settings, meta: dict) -> None:
    """Every setting checked against the model before any work, each message naming the value and what is allowed."""
    objective = objective_of(meta)
    if s.sampler not in SAMPLERS:
        raise InputError(f"sampler {s.sampler!r}; allowed: {', '.join(SAMPLERS)}")
    if s.sampler not in wording(objective).samplers:
        raise InputError(f"sampler {s.sampler!r} does not sample a {objective.name} model; allowed: "
                         f"{', '.join(wording(objective).samplers)}")
    if not 1 <= s.rows <= MAX_ROWS:
        raise InputError(f"rows={s.rows}; allowed: 1 .. {MAX_ROWS}")
    if objective.max_steps is None and not 1 <= s.num_steps <= MAX_FLOW_STEPS:
        raise InputError(f"steps={s.num_steps}; allowed for a flow-matching model: 1 .. {MAX_FLOW_STEPS}")
    steps_of(meta, s.num_steps)  # a DDPM's 1 .. T
    if s.variance not in FIXED_VARIANCES:
        raise InputError(f"variance {s.variance!r}; allowed: {', '.join(FIXED_VARIANCES)}")
    if not 0 <= s.eta <= 1:
        raise InputError(f"eta={s.eta}; allowed: a number in [0, 1] (0 = deterministic DDIM)")
    if not 0 <= s.guidance_scale < math.inf:
        raise InputError(f"CFG scale {s.guidance_scale}; allowed: a finite number >= 0 (1 = no guidance)")
    if s.seed < 0:
        raise InputError(f"seed={s.seed}; allowed: an integer >= 0")


def batch_size_of(params: dict, run: str) -> int | None:
    """The run's sample_batch_size (params.yaml), the batch size its sample stages draw with; None (all at once)
    where its params have none."""
    size = params.get("sample_batch_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise InputError(f"run {run!r}: sample_batch_size={size!r} in its params.yaml; allowed: an integer >= 1, or "
                         "none (all at once)")
    return size


def draw(unet: UNet, meta: dict, s: Settings, runtime: Runtime, batch_size: int | None = None,
         on_step: Callable[[int, float, torch.Tensor], None] | None = None,
         frames: Frames | None = None, cancel: threading.Event | None = None) -> torch.Tensor:
    """The grid's digits, row r holding s.digits, drawn as the sample stages draw theirs (sampling/grids.draw_digits:
    image i's noise and step noise from image_generators(seed, n)[i], the images going through generate()
    batch_size at a time, None: all at once), so that the grid is the stage's, bit for bit, at the stage's
    sample_batch_size. on_step sees each batch in turn after each step. `frames` (if
    given) films the reverse process from that noise; its last picture is the grid's. Once `cancel` is set the loop
    stops after the step under way (steps.Cancelled)."""
    check(s, meta)
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size={batch_size}; allowed: an integer >= 1, or None (all at once)")
    n = len(s.digits) * s.rows
    total = steps_of(meta, s.num_steps)
    stop = stop_if(cancel, total, math.ceil(n / (batch_size or n)))
    return draw_digits(unet, meta, list(s.digits) * s.rows, n, s.seed, runtime, batch_size, s.guidance_scale,
                       s.num_steps, s.eta if s.sampler == "DDIM" else None, s.variance,
                       on_noise=None if frames is None else lambda x_T: frames.start(x_T, total),
                       on_step=watched(frames, on_step, stop))


def verdicts(judge: Judge, x: torch.Tensor) -> tuple[list[int], list[float]]:
    """The judge's label of each image and its confidence (softmax probability of that label)."""
    labels, features = judge_outputs(judge, x)
    with torch.no_grad():
        probs = torch.softmax(judge.head(features.float().to(next(judge.parameters()).device)), 1).cpu()
    return labels.tolist(), probs[torch.arange(len(labels)), labels].tolist()
