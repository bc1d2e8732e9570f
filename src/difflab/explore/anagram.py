"""The Anagram tab's work, free of the page: visual anagrams (A1.8) from a run's class-conditioned MNIST DDPM, made
by part A's engine exactly as its anagram experiment and evaluation/parta.py make them (MnistDiffusion, one-hot
conditions, parta/algorithms.anagram over core/views.py's views, iterative_denoise down a strided schedule from
seeded noise), so the explorer's anagram for a seed is the library's; and each sample as seen through each view.

Also the part A engine the Draw tab shares: the model behind part A's interface, its timesteps and conditions."""

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.config.runtime import Runtime
from difflab.core.ddpm import check_eta, check_variance
from difflab.core.timesteps import timesteps
from difflab.errors import InputError
from difflab.explore.steps import stop_if, watched
from difflab.models.unet import NUM_CLASSES, UNet
from difflab.parta import algorithms as alg
from difflab.core.views import VIEWS, View, views_for
from difflab.sampling.adapters import MnistDiffusion
from difflab.sampling.labels import one_hot_prompts

MAX_COUNT = 8  # anagrams drawn at once (one noise image each), so a page answers in seconds on a CPU
PART_A_MODEL = "ddpm_class"  # parta.mnist.common.checkpoint: part A runs on the class-conditioned DDPM


@dataclass(frozen=True)
class Engine:
    """How part A steps, as parta.<model>.common says it: the stride of its timesteps, the CFG scale, the sampler
    (eta None = the DDPM posterior step with `variance`'s noise; a number in [0, 1] = DDIM) and the seed."""
    guidance_scale: float
    stride: int
    seed: int
    eta: float | None = None
    variance: str = "fixed_small"


@dataclass(frozen=True)
class AnagramSettings:
    """One anagram: digit k through view k (2 or 3 of each), `count` samples from one seeded noise batch."""
    digits: tuple[int, ...]
    views: tuple[str, ...]
    engine: Engine
    count: int = 1


def part_a_model(unet: UNet, meta: dict, runtime: Runtime) -> MnistDiffusion:
    """The run's model behind part A's interface, as parta/load.py builds it for parta.model = mnist."""
    if unet.conditioning != "class" or meta.get("objective", "ddpm") != "ddpm":
        raise InputError(f"part A runs on the class-conditioned DDPM; this model is {unet.conditioning}-conditioned, "
                         f"objective {meta.get('objective', 'ddpm')!r} (allowed: {PART_A_MODEL})")
    return MnistDiffusion(unet, meta, runtime=runtime)


def cond(model: MnistDiffusion, prompt: str) -> torch.Tensor:
    """A prompt's condition ("0".."9"; "" = the null class), one-hot as the embed_prompts stage caches it."""
    return one_hot_prompts([prompt], model.classes).to(model.device)


def schedule(model: MnistDiffusion, e: Engine) -> list[int]:
    """Part A's strided timesteps (Context.timesteps); InputError naming the stride and what is allowed."""
    return timesteps(model.num_train_timesteps, stride=e.stride)


def generator(model: MnistDiffusion, e: Engine) -> torch.Generator:
    """The generator every part A experiment seeds (Context.generator)."""
    return torch.Generator(device=model.device).manual_seed(e.seed)


def check_engine(model: MnistDiffusion, e: Engine) -> list[int]:
    """The engine's settings checked before any work; returns the timesteps."""
    ts = schedule(model, e)
    check_eta(e.eta)
    check_variance(e.variance)
    if not 0 <= e.guidance_scale < math.inf:
        raise InputError(f"CFG scale {e.guidance_scale}; allowed: a finite number >= 0 (1 = no guidance)")
    if e.seed < 0:
        raise InputError(f"seed={e.seed}; allowed: an integer >= 0")
    return ts


def check(model: MnistDiffusion, s: AnagramSettings) -> tuple[list[int], list[View]]:
    """Every setting checked against the model before any work, each message naming the value and what is allowed;
    returns the timesteps and the views."""
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


def make(model: MnistDiffusion, s: AnagramSettings,
         on_step: Callable[[int, int, torch.Tensor], None] | None = None,
         cancel: threading.Event | None = None) -> torch.Tensor:
    """`count` anagrams (count, 1, 28, 28) in [0, 1]-ish model space, from the seeded noise and generator that
    evaluation/parta.py's Bench uses (one generator draws the noise batch, then every step's noise). Once `cancel`
    is set the loop stops after the step under way (steps.Cancelled)."""
    ts, views = check(model, s)
    e = s.engine
    g = generator(model, e)
    x_T = torch.randn((s.count, model.channels, model.image_size, model.image_size), generator=g, device=model.device)
    predictor = alg.anagram(model, [cond(model, str(d)) for d in s.digits], cond(model, ""), e.guidance_scale, views)
    return alg.iterative_denoise(model, x_T, ts, 0, predictor, g, on_step=watched(on_step, stop_if(cancel, len(ts))),
                                 eta=e.eta, variance=e.variance)


def seen(x: torch.Tensor, views: tuple[str, ...]) -> torch.Tensor:
    """The samples through each view, view by view: row k of the result holds view k of every sample."""
    return torch.cat([VIEWS[name](x) for name in views])
