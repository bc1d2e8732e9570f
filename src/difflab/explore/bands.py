"""The Bands tab's work, free of the page: factorized diffusion over frequency bands (part A's A1.9 beyond the
hybrids) from a run's class-conditioned MNIST DDPM or flow model, made by part A's engine exactly as
evaluation/parta.py's bands() makes it (the engine's factorized predictor over frequency_bands(blurs)), so the
explorer's image for a seed is the library's; and each sample as seen through each band (band_views: through the
widest blur from afar, ..., the image itself up close), which is what the judge is asked about."""

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from difflab.errors import InputError
from difflab.explore.anagram import MAX_COUNT, EngineSettings, check_engine
from difflab.explore.steps import stop_if, watched
from difflab.models.unet import NUM_CLASSES
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
    """Every setting checked before any work, each message naming the value and what is allowed (a kernel the image
    cannot hold too: algorithms.kernel_fits, the rule part A's stages check); returns the engine."""
    if not 1 <= len(s.blurs) <= MAX_BLURS:
        raise InputError(f"{len(s.blurs)} blurs {list(s.blurs)}; allowed: 1 .. {MAX_BLURS} (kernel size, sigma), "
                         "widest first")
    if len(s.digits) != len(s.blurs) + 1:
        raise InputError(f"{len(s.digits)} digits {list(s.digits)} for {len(s.blurs)} blur(s); allowed: one digit "
                         f"per band, {len(s.blurs) + 1} here (low to high)")
    bad = [d for d in s.digits if not 0 <= d < NUM_CLASSES]
    if bad:
        raise InputError(f"digits {bad}; allowed: 0 .. {NUM_CLASSES - 1}")
    side = model.image_size
    for k, sigma in s.blurs:
        if not 0 < sigma < math.inf:
            raise InputError(f"blur ({k}, {sigma}): sigma={sigma}; allowed: a finite number > 0")
        if not alg.kernel_fits(k, side):
            raise InputError(f"blur ({k}, {sigma}): kernel_size={k}; allowed: an odd number below {2 * side} for "
                             f"{side}x{side} images")
    if any(a[1] <= b[1] for a, b in zip(s.blurs, s.blurs[1:])):
        raise InputError(f"blurs {list(s.blurs)}: sigmas must decrease; allowed: the widest blur (the lowest band) "
                         "first")
    if not 1 <= s.count <= MAX_COUNT:
        raise InputError(f"samples={s.count}; allowed: 1 .. {MAX_COUNT}")
    return check_engine(model, s.engine)


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
