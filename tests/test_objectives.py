"""core.objectives: what a DDPM and a flow model do differently, asked of the one object a checkpoint's metadata
builds, and the MNIST model that feeds its UNet the objective's time."""

import pytest
import torch
from torch import nn

from difflab.core.ddpm import linear_alphas_cumprod
from difflab.config.parta_models import BY_OBJECTIVE
from difflab.config.schema import DIFFUSION_MODELS, PartA
from difflab.core.objectives import DDPM, OBJECTIVES, Flow, objective_of, of_section
from difflab.core.processes import DDPMProcess, FlowProcess
from difflab.errors import InputError
from difflab.reporting.wording import WORDING, what, wording
from difflab.sampling.adapters import MnistModel

SCHEDULE = {"num_timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}


def test_the_metadata_names_the_objective_and_a_ddpm_brings_its_schedule():
    ddpm = objective_of({"objective": "ddpm", **SCHEDULE})
    assert isinstance(ddpm, DDPM) and ddpm.max_steps == 50 and ddpm.settings == SCHEDULE
    assert torch.equal(ddpm.alphas_cumprod, linear_alphas_cumprod(50, 1e-4, 0.02))
    assert isinstance(objective_of(SCHEDULE), DDPM)  # weights saved before flow matching came name none
    assert isinstance(objective_of({"objective": "flow"}), Flow)
    with pytest.raises(InputError, match="objective 'score' in the model's metadata; allowed: ddpm, flow"):
        objective_of({"objective": "score"})


def test_the_knobs_an_objective_names_are_its_sections_and_not_the_others():
    """Catches a knob renamed in the schema but not in the objective that the explorer and the stages ask
    (process_knobs show the engine's fields, start_knob the SDEdit start), a part A model whose objective's section
    is not its own, and a section name that no longer says its objective."""
    assert [of_section(m) for m in DIFFUSION_MODELS] == [DDPM, DDPM, Flow, Flow]
    for objective, other in ((DDPM, Flow), (Flow, DDPM)):
        section = PartA.model_fields[BY_OBJECTIVE[objective.name].section].annotation.model_fields
        common = section["common"].annotation.model_fields
        assert set(objective.process_knobs) <= set(common) and not set(other.process_knobs) & set(common)
        for experiment in ("iterative", "sdedit"):
            assert objective.start_knob in section[experiment].annotation.model_fields


def test_each_objective_counts_its_steps_and_refuses_the_others_knobs():
    ddpm, flow = objective_of(SCHEDULE), Flow()
    assert [len(o.sampler(n)[1]) for o, n in ((ddpm, None), (ddpm, 7), (flow, 7))] == [50, 7, 7]
    with pytest.raises(InputError, match=r"num_steps=51; allowed for a DDPM: 1 .. T \(50\)"):
        ddpm.sampler(51)
    with pytest.raises(InputError, match="a flow-matching model needs num_steps"):
        flow.sampler(None)
    with pytest.raises(InputError, match="eta=0.5: DDIM's eta applies to a DDPM"):
        flow.sampler(10, eta=0.5)


def test_the_part_b_sampler_is_the_objectives_process_on_its_grid():
    """A DDPM's num_steps of its T timesteps (all by default); a flow's n Euler steps of 1 / n from t = 0."""
    process, grid = objective_of(SCHEDULE).sampler(5, eta=0.0)
    assert isinstance(process, DDPMProcess) and process.eta == 0.0 and grid == [49, 37, 24, 12, 0]
    assert objective_of(SCHEDULE).sampler()[1] == list(range(49, -1, -1))
    process, grid = Flow().sampler(4)
    assert isinstance(process, FlowProcess) and process.num_steps == 4 and grid == [0.0, 0.25, 0.5, 0.75]
    assert Flow().process(step=0.1).num_steps == 10  # part A's process: a flow reads its step alone


def test_every_objective_has_its_words_and_figures_name_its_process_by_them():
    """reporting/wording.py keys its words by the objective's name: a new objective without them fails here."""
    assert WORDING.keys() == OBJECTIVES.keys()
    ddpm, flow = objective_of(SCHEDULE), Flow()
    assert (what(ddpm), what(flow)) == ("DDPM, T=50", "flow matching")
    w, v = wording(ddpm), wording(flow)
    assert [w.about(ddpm.process(eta=0.0)), w.about(ddpm.process()), v.about(flow.process(step=0.1))] == [
        "DDIM eta 0.0", "DDPM step, fixed_small", "Euler, h = 0.1"]
    assert [w.label(49), w.start_label(3, 40), w.start_title(3, 40)] == ["t = 49", "i_start 3\n(t = 40)",
                                                                        "i_start = 3 (t = 40)"]
    assert [v.label(0.5), v.start_label(0.25, 0.25), v.start_title(0.25, 0.25)] == ["t = 0.50", "t_start 0.25",
                                                                                   "t_start = 0.25"]


class TimeSpy(nn.Module):
    """A UNet that records the time it is fed."""
    conditioning = "class"

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x, t, cond):
        self.seen.append(t.tolist())
        return torch.zeros_like(x)


def test_the_mnist_model_feeds_its_unet_the_objectives_time():
    """A DDPM's UNet learned t / T; a flow's the time itself: feeding either the other's would sample garbage."""
    x = torch.zeros(2, 1, 28, 28)
    spy = TimeSpy()
    ddpm = MnistModel(spy, {"objective": "ddpm", **SCHEDULE})
    ddpm.predict(x, 10, None)
    flow = MnistModel(spy, {"objective": "flow"})
    flow.predict(x, 0.3, None)
    assert spy.seen == [pytest.approx([0.2, 0.2]), pytest.approx([0.3, 0.3])]
    assert (ddpm.name, flow.name) == ("mnist", "mnist-flow")  # how part A's figures name them
