"""The page's fields read as settings, free of the page, each checked where the page takes it and nowhere after:
a field that starts at a knob of params.yaml (the CFG scale, eta, the stride, the Euler step, the seed, SDEdit's
start...) by that knob's rule (defaults.checked: the schema's own, with the params loader's message); what the page
alone has (digits, blurs, a box, counts) parsed here. What only the model can judge (a stride against its T, a
kernel against its image size, a view against its value range) each tab's work judges once the model is loaded
(sample.check, anagram.against_model)."""

import torch

from difflab.config.parta_models import BY_OBJECTIVE
from difflab.core.objectives import of_section
from difflab.errors import InputError
from difflab.explore.anagram import PART_A_MODELS, EngineSettings
from difflab.explore.bands import Blur
from difflab.explore.defaults import KNOBS, PART_A_SAMPLERS, checked
from difflab.explore.draw import mask_from_strokes
from difflab.explore.sample import Settings, parse_digits

REGIONS = ("box", "drawn mask")  # where inpainting redraws
PART_A_VARIANCE = "fixed_small"  # the page's DDPM step adds the posterior's noise (MNIST predicts no variance)


def of_knob(field: str, value):
    """A field's value by the rule of the knob it starts at (KNOBS)."""
    return checked(KNOBS[field][0], value)


def settings_of(digits: str, rows, scale, steps, sampler: str, eta, variance: str, seed) -> Settings:
    """The Sample tab's fields as the sampler's settings, each knob by the rule of the one it starts at
    (defaults.KNOBS); the rows, steps and sampler are checked against the model by sample.check."""
    return Settings(parse_digits(digits), rows, of_knob("cfg_scale", scale), steps, sampler, of_knob("eta", eta),
                    of_knob("variance", variance), of_knob("seed", seed))


def engine_of(model: str, scale, stride, seed, sampler: str, eta, step) -> EngineSettings:
    """The part A tabs' engine fields as parta.<model's section>.common holds them: a DDPM's stride, sampler, DDIM
    eta (its noise the posterior's) and CFG scale, a flow model's Euler step and CFG scale; the model reads its own
    and ignores the others'."""
    if model not in PART_A_MODELS:
        raise InputError(f"model {model!r}; allowed: {', '.join(PART_A_MODELS)} (part A runs on the class models)")
    objective = of_section(model)
    page = {"stride": stride, "sampler": PART_A_SAMPLERS.get(sampler, sampler), "ddim_eta": eta, "step": step,
            "variance": PART_A_VARIANCE, "guidance_scale": scale}
    common = checked(f"parta.{section_of(model)}.common",
                     {k: page[k] for k in (*objective.process_knobs, "guidance_scale")})
    return EngineSettings(common, of_knob("seed", seed))


def blurs_of(text: str, model: str) -> tuple[Blur, ...]:
    """"9 2.0, 3 0.7" -> the blurs (kernel size, sigma), each by the rule of a blur of the model's part A section
    (parta.<section>.blur); bands.check checks how many there are and their order, against_model their kernels
    against the image."""
    blurs = []
    for part in (text or "").split(","):
        pair = part.split()
        try:
            blurs.append((int(pair[0]), float(pair[1])) if len(pair) == 2 else None)
        except ValueError:
            blurs.append(None)
        if blurs[-1] is None:
            raise InputError(f"blurs {text!r}: {part.strip()!r} is not a blur; allowed: a kernel size (an odd whole "
                             "number) and a sigma per blur, blurs separated by commas, widest first (e.g. 9 2.0, "
                             "3 0.7)")
        checked(f"parta.{section_of(model)}.blur", {"kernel_size": blurs[-1][0], "sigma": blurs[-1][1]})
    return tuple(blurs)


def box_of(text: str, model: str) -> tuple[float, ...]:
    """"0, 0.5, 0, 1" -> the inpainting box (top, bottom, left, right fractions), by the rule of an inpainting mask
    of the model's part A section (parta.<section>.inpaint)."""
    try:
        box = [float(v) for v in (text or "").replace(",", " ").split()]
    except ValueError:
        raise InputError(f"mask box {text!r}; allowed: four fractions of the side: top, bottom, left, right "
                         "(e.g. 0, 0.5, 0, 1 = the top half)") from None
    return tuple(checked(f"parta.{section_of(model)}.inpaint", {"masks": [box]}).masks[0])


def start_of(value, model: str):
    """SDEdit's start from its field (a float on the page) as the model's start knob, by the rule of
    parta.<section>.iterative's: a DDPM's i_start (a whole number, 2.0 is 2), a flow model's t_start."""
    objective = of_section(model)
    value = int(value) if isinstance(value, float) and value.is_integer() else value
    return getattr(checked(f"parta.{section_of(model)}.iterative", {objective.start_knob: value}),
                   objective.start_knob)


def section_of(model: str) -> str:
    """The part A section of a run's class model (ddpm_class -> mnist): its objective's."""
    return BY_OBJECTIVE[of_section(model).name].section


def canvas_of(value) -> object:
    """The drawing of a Sketchpad (its composite: strokes over any uploaded background), or None."""
    return value.get("composite") if isinstance(value, dict) else value


def strokes_of(value) -> list | None:
    """The layers of a Sketchpad (the strokes painted on it, without its background), or None."""
    return value.get("layers") if isinstance(value, dict) else None


def region_of(mode: str, region: str, mask_canvas) -> torch.Tensor | None:
    """The mask painted by hand when inpainting inside a drawn mask, else None (the box, or SDEdit); Gradio takes
    only REGIONS."""
    return mask_from_strokes(strokes_of(mask_canvas)) if mode == "inpaint" and region == "drawn mask" else None
