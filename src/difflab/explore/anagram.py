"""The Anagram tab's work, free of the page: visual anagrams (A1.8) from a run's class-conditioned MNIST DDPM or
flow model, made by part A's engine (parta/engine.py) exactly as its anagram experiment and evaluation/parta.py
make them, so the explorer's anagram for a seed is the library's; and each sample as seen through each view.

Also what the Bands and Draw tabs share: the page's engine settings and the engine they make for the model."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.core.views import VIEWS, View, views_for
from difflab.errors import InputError
from difflab.explore.steps import stop_if, watched
from difflab.models.unet import NUM_CLASSES
from difflab.parta.engine import Engine
from difflab.parta.load import one_hot_conditions
from difflab.parta.model import DiffusionModel
from difflab.sampling.labels import one_hot_prompts

MAX_COUNT = 8  # anagrams drawn at once (one noise image each), so a page answers in seconds on a CPU
PART_A_MODELS = ("ddpm_class", "flow_class")  # the run's models part A runs on (objectives.of_section: their objective)
PART_A_MODEL = "ddpm_class"  # parta.mnist.common.checkpoint: the default


@dataclass(frozen=True)
class EngineSettings:
    """How part A steps, as parta.<model>.common says it: the CFG scale, the seed, and the process's knobs: a
    DDPM's stride of its timesteps and sampler (eta None = the posterior step with `variance`'s noise; a number in
    [0, 1] = DDIM), a flow model's Euler step (1 / n)."""
    guidance_scale: float
    stride: int
    seed: int
    eta: float | None = None
    variance: str = "fixed_small"
    step: float = 0.02


@dataclass(frozen=True)
class AnagramSettings:
    """One anagram: digit k through view k (2 or 3 of each), `count` samples from one seeded noise batch."""
    digits: tuple[int, ...]
    views: tuple[str, ...]
    engine: EngineSettings
    count: int = 1


def cond(model: DiffusionModel, prompt: str) -> torch.Tensor:
    """A prompt's condition ("0".."9"; "" = the null class), one-hot as the embed_prompts stage caches it."""
    return one_hot_prompts([prompt], model.classes).to(model.device)


def check_engine(model: DiffusionModel, e: EngineSettings) -> Engine:
    """The page's settings as part A's engine for the model, every one checked before any work (each message naming
    the value and what is allowed)."""
    process = model.objective.process(e.stride, e.eta, e.variance, e.step)
    return Engine(model, process, one_hot_conditions(model), e.guidance_scale, e.seed)


def check(model: DiffusionModel, s: AnagramSettings) -> tuple[Engine, list[View]]:
    """Every setting checked against the model before any work, each message naming the value and what is allowed;
    returns the engine and the views."""
    if not 2 <= len(s.views) <= 3 or len(s.digits) != len(s.views):
        raise InputError(f"{len(s.digits)} digits for views {list(s.views)}; allowed: 2 or 3 views, one digit each")
    bad = [d for d in s.digits if not 0 <= d < NUM_CLASSES]
    if bad:
        raise InputError(f"digits {bad}; allowed: 0 .. {NUM_CLASSES - 1}")
    if len(set(s.digits)) != len(s.digits):
        raise InputError(f"digits {list(s.digits)}: the same digit twice; allowed: a different digit for each view "
                         "(one digit through two views is a symmetric digit, not an anagram)")
    views = views_for(list(s.views), model)  # unknown, repeated or unsuitable views (negate on [0, 1] images)
    if not 1 <= s.count <= MAX_COUNT:
        raise InputError(f"samples={s.count}; allowed: 1 .. {MAX_COUNT}")
    return check_engine(model, s.engine), views


def make(model: DiffusionModel, s: AnagramSettings,
         on_step: Callable[[int, float, torch.Tensor], None] | None = None,
         cancel: threading.Event | None = None) -> torch.Tensor:
    """`count` anagrams (count, 1, 28, 28) in [0, 1]-ish model space, by the engine's sample from its seeded noise
    (as evaluation/parta.py's measures: one generator draws the noise batch, then every step's noise). Once `cancel`
    is set the loop stops after the step under way (steps.Cancelled)."""
    engine, views = check(model, s)
    predictor = engine.anagram([str(d) for d in s.digits], views)
    return engine.sample(predictor, s.count, on_step=watched(on_step, stop_if(cancel, len(engine.grid))))


def seen(x: torch.Tensor, views: tuple[str, ...]) -> torch.Tensor:
    """The samples through each view, view by view: row k of the result holds view k of every sample."""
    return torch.cat([VIEWS[name](x) for name in views])
