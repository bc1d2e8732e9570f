"""The page's fields read as settings, free of the page: a number typed or sent through the API becomes a finite
number, a whole number, a list of blurs, a box or a mask, or an InputError naming the field and what it allows
(inf and NaN come only through the API, and no setting takes them). Each tab's work checks the settings against the
model afterwards (sample.check, anagram.check_engine, bands.check, draw.check)."""

import math

import torch

from difflab.errors import InputError
from difflab.explore.anagram import EngineSettings
from difflab.explore.bands import Blur
from difflab.explore.draw import mask_from_strokes
from difflab.explore.sample import Settings, parse_digits

# part A's sampler on the page -> parta.mnist.common.sampler's name: the posterior step (fixed_small) | DDIM (eta)
PART_A_SAMPLERS = {"DDPM step": "ddpm", "DDIM": "ddim"}
REGIONS = ("box", "drawn mask")  # where inpainting redraws


def number(name: str, value) -> float:
    """A finite number from a page field, or an InputError naming the field (an emptied field gives None)."""
    if value is None:
        raise InputError(f"{name} is empty; allowed: a number")
    if not math.isfinite(float(value)):
        raise InputError(f"{name}={float(value)!r}; allowed: a finite number")
    return float(value)


def integer(name: str, value) -> int:
    """A whole number from a page field, or an InputError naming the field."""
    if number(name, value) != int(value):
        raise InputError(f"{name}={value!r}; allowed: a whole number")
    return int(value)


def start_of(value) -> float | int:
    """SDEdit's start from its field (a float on the page): a whole number as an int, as a DDPM's i_start is
    written; any other number as it is (a flow model's t_start)."""
    x = number("SDEdit start", value)
    return int(x) if x.is_integer() else x


def settings_of(digits: str, rows, scale, steps, sampler: str, eta, variance: str, seed) -> Settings:
    """The Sample tab's fields as the sampler's settings (checked against the model by sample.check)."""
    return Settings(parse_digits(digits), integer("rows", rows), number("CFG scale", scale), integer("steps", steps),
                    sampler, number("eta", eta), variance, integer("seed", seed))


def engine_of(scale, stride, seed, sampler: str, eta, step) -> EngineSettings:
    """The part A tabs' engine fields as the engine's settings (checked against the model by
    anagram.check_engine): the DDPM's stride and sampler, the flow model's Euler step; a model reads its own and
    ignores the others'."""
    if sampler not in PART_A_SAMPLERS:
        raise InputError(f"sampler {sampler!r}; allowed: {', '.join(PART_A_SAMPLERS)}")
    return EngineSettings(number("CFG scale", scale), integer("stride", stride), integer("seed", seed),
                          None if sampler == "DDPM step" else number("eta", eta), step=number("Euler step", step))


def blur_of(text: str) -> Blur | None:
    """"9 2.0" -> (9, 2.0); None when it is not a whole number and a finite number."""
    pair = text.split()
    try:
        blur = (int(pair[0]), float(pair[1])) if len(pair) == 2 else None
    except ValueError:
        return None
    return blur if blur is not None and math.isfinite(blur[1]) else None


def blurs_of(text: str) -> tuple[Blur, ...]:
    """"9 2.0, 3 0.7" -> the blurs (kernel size, sigma), widest first; bands.check checks their sizes and order."""
    blurs = [(part, blur_of(part)) for part in (text or "").split(",")]
    for part, blur in blurs:
        if blur is None:
            raise InputError(f"blurs {text!r}: {part.strip()!r} is not a blur; allowed: a kernel size (an odd whole "
                             "number) and a sigma per blur, blurs separated by commas, widest first (e.g. 9 2.0, "
                             "3 0.7)")
    return tuple(blur for _, blur in blurs)


def box_of(text: str) -> tuple[float, ...]:
    """"0, 0.5, 0, 1" -> the inpainting box (top, bottom, left, right fractions; make_mask checks their order)."""
    try:
        box = tuple(float(v) for v in (text or "").replace(",", " ").split())
    except ValueError:
        box = ()
    if len(box) != 4 or not all(map(math.isfinite, box)):
        raise InputError(f"mask box {text!r}; allowed: four fractions of the side: top, bottom, left, right "
                         "(e.g. 0, 0.5, 0, 1 = the top half)")
    return box


def canvas_of(value) -> object:
    """The drawing of a Sketchpad (its composite: strokes over any uploaded background), or None."""
    return value.get("composite") if isinstance(value, dict) else value


def strokes_of(value) -> list | None:
    """The layers of a Sketchpad (the strokes painted on it, without its background), or None."""
    return value.get("layers") if isinstance(value, dict) else None


def region_of(mode: str, region: str, mask_canvas) -> torch.Tensor | None:
    """The mask painted by hand when inpainting inside a drawn mask, else None (the box, or SDEdit)."""
    if region not in REGIONS:
        raise InputError(f"inpaint inside {region!r}; allowed: {', '.join(REGIONS)}")
    return mask_from_strokes(strokes_of(mask_canvas)) if mode == "inpaint" and region == "drawn mask" else None
