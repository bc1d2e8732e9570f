"""The Anagram tab's work, free of the page: visual anagrams (A1.8) from a run's class-conditioned MNIST DDPM or
flow model, made by part A's engine (parta/engine.py) exactly as its anagram experiment and evaluation/parta.py
make them, so the explorer's anagram for a seed is the library's; and each sample as seen through each view.

Also what the Bands and Draw tabs share: the page's engine settings, and the engine they make for the model once
their knobs are judged against it as part A's stages judge theirs."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.config.parta_models import BY_OBJECTIVE
from difflab.config.schema import CLASS_MODELS, Anagram, PartA, Section
from difflab.core.views import VIEWS
from difflab.errors import InputError
from difflab.explore.sample import within
from difflab.explore.steps import stop_if, watched
from difflab.parta.engine import Engine, process_of
from difflab.parta.experiments import check_against_model
from difflab.parta.load import one_hot_conditions
from difflab.parta.model import DiffusionModel

MAX_COUNT = 8  # samples drawn at once (one noise image each), so a page answers in seconds on a CPU
PART_A_MODELS = CLASS_MODELS  # the run's models part A runs on (objectives.of_section: their objective)
PART_A_MODEL = "ddpm_class"  # parta.mnist.common.checkpoint: the default


@dataclass(frozen=True)
class EngineSettings:
    """How part A steps, as the page sets it (fields.engine_of): the knobs of parta.<model>.common that the
    engine reads (a DDPM's stride, sampler, ddim_eta, variance and CFG scale; a flow model's Euler step and CFG
    scale), checked by the schema, and the seed."""
    common: Section
    seed: int


@dataclass(frozen=True)
class AnagramSettings:
    """One anagram: digit k through view k (2 or 3 of each), `count` samples from one seeded noise batch."""
    digits: tuple[int, ...]
    views: tuple[str, ...]
    engine: EngineSettings
    count: int = 1


def against_model(model: DiffusionModel, e: EngineSettings, **sections: dict) -> Engine:
    """The page's engine for the model, once the engine's knobs and the tab's `sections` of parta.<model's section>
    (each its knobs by name) are judged against the model as part A's stages judge theirs
    (experiments.check_against_model: a DDPM's stride and starts against its T, kernels against its image size,
    views against its value range)."""
    assert set(type(e.common).model_fields) == {*model.objective.process_knobs, "guidance_scale"}, \
        f"the engine settings of another model's section: {e.common!r}"
    experiments = PartA.model_fields[BY_OBJECTIVE[model.objective.name].section].annotation
    check_against_model(experiments.model_construct(common=e.common, **{
        name: experiments.model_fields[name].annotation.model_construct(**knobs) for name, knobs in sections.items()}),
        model)
    return Engine(model, process_of(model, e.common), one_hot_conditions(model), e.common.guidance_scale, e.seed)


def check(model: DiffusionModel, s: AnagramSettings) -> Engine:
    """Every setting checked against the model before any work, each message naming the value and what is allowed;
    returns the engine."""
    assert len(s.digits) == len(s.views), f"{s.digits} for views {s.views}: the page pairs them"
    if len(set(s.digits)) != len(s.digits):
        raise InputError(f"digits {list(s.digits)}: the same digit twice; allowed: a different digit for each view "
                         "(one digit through two views is a symmetric digit, not an anagram)")
    within("samples", s.count, 1, MAX_COUNT)
    entry = Anagram.model_construct(views=list(s.views), prompts=[str(d) for d in s.digits])
    return against_model(model, s.engine, anagram={"anagrams": [entry]})


def make(model: DiffusionModel, s: AnagramSettings,
         on_step: Callable[[int, float, torch.Tensor], None] | None = None,
         cancel: threading.Event | None = None) -> torch.Tensor:
    """`count` anagrams (count, 1, 28, 28) in [0, 1]-ish model space, by the engine's sample from its seeded noise
    (as evaluation/parta.py's measures: one generator draws the noise batch, then every step's noise). Once `cancel`
    is set the loop stops after the step under way (steps.Cancelled)."""
    engine = check(model, s)
    predictor = engine.anagram([str(d) for d in s.digits], [VIEWS[v] for v in s.views])
    return engine.sample(predictor, s.count, on_step=watched(on_step, stop_if(cancel, len(engine.grid))))


def seen(x: torch.Tensor, views: tuple[str, ...]) -> torch.Tensor:
    """The samples through each view, view by view: row k of the result holds view k of every sample."""
    return torch.cat([VIEWS[name](x) for name in views])
