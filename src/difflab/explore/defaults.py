"""The page's first values, read from the params.yaml of the run the page opens on (the workspace, unless the run
picker starts elsewhere): the knobs that run's own stages sample with, so that the explorer starts where the run's
figures are. KNOBS is the one place that names the knob behind each field and the value the field takes where the
run's params lack that knob (a run older than the knob, a params.yaml without that section, or no params.yaml at
all): the value params.yaml holds today. The fields no knob holds (the Sample tab's model, digits, sampler and
steps, the Anagram and Bands tabs' example digits, views and blurs, the inpainting box, the sample counts) are the
page's own, written where the page lays them out."""

import math

from difflab.core.ddpm import FIXED_VARIANCES
from difflab.errors import InputError
from difflab.explore.fields import PART_A_SAMPLERS
from difflab.explore.runs import RunError, Runs

# a field -> the params.yaml knob its first value is read from (a dotted path), and its value where the params lack it
KNOBS = {
    "seed": ("seed", 2718),  # every tab's seed (part A's experiments and evaluation take the run's seed too)
    # the Sample tab, on its first model (ddpm_class): the sample stage's rows and CFG scale; DDIM's eta as the
    # sampler comparison takes it, the DDPM step's noise across a strided step as the objective comparison does
    "rows": ("ddpm_class.samples_per_class", 4),
    "cfg_scale": ("ddpm_class.guidance_scale", 3.0),
    "eta": ("samplers.ddim_eta", 0.0),
    "variance": ("objectives.ddpm_variance", "fixed_small"),
    # the Anagram, Bands and Draw tabs' engine as part A sets it: on their first model (the DDPM, parta.mnist) the CFG
    # scale, stride, sampler and DDIM eta; the flow model's Euler step
    "part_a_cfg_scale": ("parta.mnist.common.guidance_scale", 3.0),
    "stride": ("parta.mnist.common.stride", 9),
    "part_a_sampler": ("parta.mnist.common.sampler", "ddpm"),
    "part_a_eta": ("parta.mnist.common.ddim_eta", 0.0),
    "step": ("parta.mnist_flow.common.step", 0.02),
    # the Draw tab: SDEdit starts where part A's iterative denoising (A1.4) starts, in the model's time; the strip
    # keeps the steps that A1.4 shows
    "i_start": ("parta.mnist.iterative.i_start", 10),
    "t_start": ("parta.mnist_flow.iterative.t_start", 0.5),
    "every": ("parta.mnist.iterative.show_every", 5),
}
NAMES = {"variance": tuple(FIXED_VARIANCES), "part_a_sampler": tuple(PART_A_SAMPLERS.values())}  # knobs naming a choice


def knob(params: dict, path: str, fallback):
    """The value at `path` ("a.b.c") in params, or `fallback` where the params lack any part of the path."""
    value = params
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return fallback
        value = value[key]
    return value


def first_values(params: dict, run: str) -> dict:
    """Every field's first value (KNOBS) from the run's params, part A's sampler as the page names it; InputError
    naming the run, the knob and what is allowed where a knob holds what its field cannot take."""
    values = {}
    for field, (path, fallback) in KNOBS.items():
        value = knob(params, path, fallback)
        if field in NAMES:
            fits, allowed = value in NAMES[field], ", ".join(NAMES[field])
        else:
            fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            allowed = "a finite number"
        if not fits:
            raise InputError(f"run {run!r}: {path}={value!r} in its params.yaml; allowed: {allowed}")
        values[field] = value
    values["part_a_sampler"] = next(name for name, s in PART_A_SAMPLERS.items() if s == values["part_a_sampler"])
    return values


def page_defaults(runs: Runs, run: str) -> dict:
    """The first values of a page that opens on `run`: from its params, or every fallback where the run has no
    params.yaml here (or is not there): the page opens all the same, and names the run's problem at the first
    click."""
    try:
        params = runs.params(run)
    except RunError:
        params = {}
    return first_values(params, run)
