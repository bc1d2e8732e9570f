"""The Bands tab's work, free of the page: factorized diffusion over frequency bands (part A's A1.9 beyond the
hybrids) from a run's class-conditioned MNIST DDPM or flow model, made by part A's engine exactly as
evaluation/parta.py's bands() makes it (the engine's factorized predictor over frequency_bands(blurs)), so the
explorer's image for a seed is the library's; and each sample as seen through each band (band_views: through the
widest blur from afar, ..., the image itself up close), which is what the judge is asked about."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.errors import InputError
from difflab.explore.anagram import MAX_COUNT, EngineSettings, against_model
from difflab.explore.sample import within
from difflab.explore.steps import stop_if, watched
from difflab.parta import algorithms as alg
from difflab.parta.engine import Engine
from difflab.parta.model import DiffusionModel

MAX_BLURS = 3  # four bands: already more than a 28 x 28 digit tells apart
Blur = tuple[int, float]  # a Gaussian blur's kernel size and sigma (parta.mnist.factorized's kernel_sizes, sigmas)


@dataclass(frozen=True)
class BandSettings:
    """One factorized image: digit k in band k, low band first (one more digit than blurs), the blurs widest first
    (one blur: a hybrid's low and high pass); `count` samples from one seeded noise batch."""
    digits: tuple[int, ...]
    blurs: tuple[Blur, ...]
    engine: EngineSettings
    count: int = 1


def band_names(blurs: tuple[Blur, ...]) -> list[str]:
    """low, (mid or mid 1, mid 2, ...), high: what each band is called on the page."""
    mids = ["mid"] if len(blurs) == 2 else [f"mid {k}" for k in range(1, len(blurs))]
    return ["low", *mids, "high"]


def check(model: DiffusionModel, s: BandSettings) -> Engine:
    """Every setting checked before any work, each message naming the value and what is allowed (each blur's kernel
    size and sigma by the schema's rule of a blur: fields.blurs_of; their kernels against the image size as part
    A's stages check theirs: anagram.against_model); returns the engine."""
    if not 1 <= len(s.blurs) <= MAX_BLURS or len(s.digits) != len(s.blurs) + 1:
        raise InputError(f"{len(s.digits)} digits {list(s.digits)} for {len(s.blurs)} blur(s) {list(s.blurs)}; "
                         f"allowed: 1 .. {MAX_BLURS} blurs (kernel size, sigma), widest first, and one digit per "
                         "band, one more than the blurs (low to high)")
    if any(a[1] <= b[1] for a, b in zip(s.blurs, s.blurs[1:])):
        raise InputError(f"blurs {list(s.blurs)}: sigmas must decrease; allowed: the widest blur (the lowest band) "
                         "first")
    within("samples", s.count, 1, MAX_COUNT)
    return against_model(model, s.engine, factorized={"kernel_sizes": [k for k, _ in s.blurs]})


def make(model: DiffusionModel, s: BandSettings,
         on_step: Callable[[int, float, torch.Tensor], None] | None = None,
         cancel: threading.Event | None = None) -> torch.Tensor:
    """`count` images (count, 1, 28, 28) whose band k follows digit k, by the engine's sample from its seeded noise
    (as evaluation/parta.py's bands() draws them); once `cancel` is set the loop stops after the step under way."""
    engine = check(model, s)
    predictor = engine.factorized([[str(d)] for d in s.digits], alg.frequency_bands(s.blurs))
    return engine.sample(predictor, s.count, on_step=watched(on_step, stop_if(cancel, len(engine.grid))))


def seen(x: torch.Tensor, blurs: tuple[Blur, ...]) -> torch.Tensor:
    """The samples through each band's view, band by band, low first: row k holds band k's view of every sample."""
    return torch.cat(alg.band_views(x, blurs))
