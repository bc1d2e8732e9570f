"""The explorer's first values read from a run's params.yaml (explore/defaults.py): each field from its knob, the
fallback where the run lacks it, and a knob no field can take named with what is allowed. No DVC, no page: the page
built on a run's params is tests/test_explore.py's."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from difflab.errors import InputError
from difflab.explore.defaults import KNOBS, first_values, knob

PARAMS = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())


def with_knobs(**knobs) -> dict:
    """The repository's params.yaml with some knobs changed, named by their dotted path (dots as __)."""
    params = copy.deepcopy(PARAMS)
    for path, value in knobs.items():
        *sections, key = path.split("__")
        section = params
        for name in sections:
            section = section[name]
        section[key] = value
    return params


def test_every_knob_the_page_reads_is_in_params_yaml():
    """A knob renamed or moved in params.yaml would leave its field on the fallback for good: each is there."""
    missing = object()
    assert [path for path, _ in KNOBS.values() if knob(PARAMS, path, missing) is missing] == []


def test_the_fields_start_at_the_runs_knobs():
    """A run whose params.yaml says ddpm_class.guidance_scale 4.5 gives the Sample tab's CFG scale 4.5 (not
    flow_class's 5); each other field follows its own knob (and no other), part A's sampler as the page names it."""
    base = first_values(PARAMS, "workspace")
    changed = {"ddpm_class__guidance_scale": ("cfg_scale", 4.5), "ddpm_class__samples_per_class": ("rows", 2),
               "seed": ("seed", 7), "samplers__ddim_eta": ("eta", 0.5),
               "objectives__ddpm_variance": ("variance", "fixed_large"),
               "parta__mnist__common__guidance_scale": ("part_a_cfg_scale", 2.0),
               "parta__mnist__common__stride": ("stride", 10),
               "parta__mnist__common__sampler": ("part_a_sampler", "DDIM"),
               "parta__mnist__common__ddim_eta": ("part_a_eta", 0.3),
               "parta__mnist_flow__common__step": ("step", 0.05),
               "parta__mnist__iterative__i_start": ("i_start", 20),
               "parta__mnist_flow__iterative__t_start": ("t_start", 0.3),
               "parta__mnist__iterative__show_every": ("every", 2)}
    assert sorted(field for field, _ in changed.values()) == sorted(KNOBS)
    for path, (field, value) in changed.items():
        assert value != base[field], path  # a change the page would show
        knob_value = "ddim" if field == "part_a_sampler" else value
        got = first_values(with_knobs(**{path: knob_value}), "workspace")
        assert got == {**base, field: value}, path


def test_a_run_lacking_a_knob_takes_its_fallback():
    """No params at all, or a run older than part A's flow model (no parta.mnist_flow): the fallbacks, which are
    today's params.yaml values, so such a page starts as a new run's does."""
    fallbacks = {field: fallback for field, (_, fallback) in KNOBS.items()}
    assert first_values({}, "old") == {**fallbacks, "part_a_sampler": "DDPM step"}
    assert first_values(PARAMS, "workspace") == first_values({}, "old")
    old = with_knobs(parta__mnist_flow={}, ddpm_class__guidance_scale=5.0)
    assert first_values(old, "old")["t_start"] == 0.5 and first_values(old, "old")["cfg_scale"] == 5.0


def test_a_knob_no_field_can_take_is_named():
    """A run's knob the schema refuses is named as the params loader names it (the knob, its value, what the
    schema allows), with the run: the same rule, stated once, that its stages would apply."""
    for path, value, allowed in (("parta__mnist__common__stride", "nine", "a valid integer"),
                                 ("parta__mnist__common__stride", 0, "greater than or equal to 1"),
                                 ("seed", True, "a valid integer"),
                                 ("ddpm_class__guidance_scale", None, "a valid number"),
                                 ("ddpm_class__guidance_scale", float("inf"), "a finite number"),
                                 ("parta__mnist__common__sampler", "euler", "'ddpm' or 'ddim'"),
                                 ("parta__mnist_flow__common__step", 0.3, "1 / n for a whole number n of Euler"),
                                 ("objectives__ddpm_variance", "learned_range", "'fixed_small' or 'fixed_large'")):
        dotted = path.replace("__", ".")
        with pytest.raises(InputError, match=re.escape(f"run 'w', in its params.yaml: {dotted}={value!r} is not "
                                                       f"allowed; allowed: {allowed}")):
            first_values(with_knobs(**{path: value}), "w")
