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
from difflab.core.objectives import objective_of
from difflab.errors import InputError
from difflab.explore.steps import SCALE, Frames, picture, stop_if, watched  # noqa: F401 (SCALE, picture: re-exported)
from difflab.models.judge import Judge, judge_outputs
from difflab.models.unet import UNet
from difflab.reporting.wording import WORDING, wording
from difflab.sampling.generate import steps_of
from difflab.sampling.grids import draw_digits

SAMPLERS = (*WORDING["ddpm"].samplers, *WORDING["flow"].samplers)  # the page's (Gradio takes no other)
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
    parts = [part for part in re.split(r"[\s,]+", text or "") if part]
    spans = [re.fullmatch(r"(\d)(?:-(\d))?", part) for part in parts]
    bad = [part for part, span in zip(parts, spans) if not span or (span[2] and int(span[2]) < int(span[1]))]
    if bad or not spans:
        raise InputError(f"digits {text!r}: " + (f"{bad[0]!r} is not a digit or a range" if bad else "no digit")
                         + "; allowed: digits 0-9 and ranges such as 0-9 or 2-5, separated by spaces or commas")
    return tuple(d for span in spans for d in range(int(span[1]), int(span[2] or span[1]) + 1))


def within(name: str, value, low: int, high: int, note: str = "") -> None:
    """A whole number of the page's in low .. high, or an InputError naming it (an emptied field gives None)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name}={value!r}; allowed: {low} .. {high}{note}")


def check(s: Settings, meta: dict) -> None:
    """The settings checked against the model before any work (each knob's own rule is fields.settings_of's), each
    message naming the value and what is allowed."""
    objective = objective_of(meta)
    if s.sampler not in wording(objective).samplers:
        raise InputError(f"sampler {s.sampler!r} does not sample a {objective.name} model; allowed: "
                         f"{', '.join(wording(objective).samplers)}")
    within("rows", s.rows, 1, MAX_ROWS)
    T = objective.max_steps  # a flow model has no T: the page's most Euler steps instead
    within("num_steps", s.num_steps, 1, T or MAX_FLOW_STEPS, f" (T = {T})" if T else " Euler steps")


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
