"""The knobs of params.yaml behind the page's fields: their rules and their first values.

A field that starts at a knob follows that knob's rule: `checked` validates a value with the schema's own model of
the knob (or of the part of its section the page sets), and a value the schema refuses is the params loader's one
line, naming the knob, the value and what is allowed. The first values are read from the params.yaml of the run the
page opens on (the workspace, unless the run picker starts elsewhere): the knobs that run's own stages sample with,
so that the explorer starts where the run's figures are. KNOBS is the one place that names the knob behind each
field and the value the field takes where the run's params lack that knob (a run older than the knob, a params.yaml
without that section, or no params.yaml at all): the value params.yaml holds today. The fields no knob holds (the Sample tab's model, digits, sampler and
steps, the Anagram and Bands tabs' example digits, views and blurs, the inpainting box, the sample counts) are the
page's own, written where the page lays them out."""

import functools

from pydantic import ValidationError, create_model

from difflab.config.params import explain
from difflab.config.schema import Params, Section
from difflab.errors import InputError
from difflab.explore.runs import RunError, Runs

# part A's sampler on the page -> parta.mnist.common.sampler's name: the posterior step (fixed_small) | DDIM (eta)
PART_A_SAMPLERS = {"DDPM step": "ddpm", "DDIM": "ddim"}

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
@functools.cache
def _model(path: tuple[str, ...], knobs: tuple[str, ...]) -> type[Section]:
    """A model of params.yaml that holds the knob at `path` alone, or of the section there only `knobs`, each with
    the schema's own type and rule (a rule between a section's knobs is not carried over)."""
    info = Params.model_fields[path[0]]
    for name in path[1:]:
        info = info.annotation.model_fields[name]
    field = (info.annotation, info)
    if knobs:
        section = info.annotation
        field = (create_model(section.__name__, __base__=Section,
                              **{k: (section.model_fields[k].annotation, section.model_fields[k]) for k in knobs}),
                 ...)
    for name in reversed(path):
        field = (create_model(f"At_{name}", __base__=Section, **{name: field}), ...)
    return field[0]


def checked(where: str, value):
    """`value` as params.yaml's knob at `where` ("seed", "samplers.ddim_eta") would hold it, or, for a dict, as the
    section at `where` ("parta.mnist.common") holding those knobs; a ParamError naming the knob otherwise."""
    path = tuple(where.split("."))
    raw = value
    for name in reversed(path):
        raw = {name: raw}
    try:
        found = _model(path, tuple(value) if isinstance(value, dict) else ()).model_validate(raw)
    except ValidationError as e:
        raise explain(e, path[0], raw) from None
    for name in path:
        found = getattr(found, name)
    return found


def of_run(run: str, where: str, value):
    """A knob of a run's params.yaml, checked as `checked` does; the error names the run."""
    try:
        return checked(where, value)
    except InputError as e:
        raise InputError(f"run {run!r}, in its params.yaml: {e}") from None


def knob(params: dict, path: str, fallback):
    """The value at `path` ("a.b.c") in params, or `fallback` where the params lack any part of the path."""
    value = params
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return fallback
        value = value[key]
    return value


def first_values(params: dict, run: str) -> dict:
    """Every field's first value (KNOBS) from the run's params, each checked by its knob's rule (fields.of_run: an
    InputError naming the run, the knob and what is allowed), part A's sampler as the page names it."""
    values = {field: of_run(run, path, knob(params, path, fallback)) for field, (path, fallback) in KNOBS.items()}
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
