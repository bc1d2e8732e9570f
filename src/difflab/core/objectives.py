"""What a DDPM and a flow-matching model do differently, asked of one object: `objective_of(meta)` builds it from a
checkpoint's metadata (or from the metadata a training is about to record), and every caller asks it rather than
testing the objective's name. It says

- how the model is trained (`loss`) and what its metadata records of it (`settings`);
- what time the UNet is fed for a sampler's time t (`model_time`: a DDPM's t / T, a flow's t itself);
- how it samples: `process(...)`, part A's Process from its knobs (a DDPM's stride and sampler, a flow's Euler
  step; each reads its own and ignores the other's), and `sampler(num_steps, eta, variance)`, part B's Process and
  grid from a step count; `max_steps`; `num_steps_of(params, section)`, the step knob of its params section (a
  flow's num_steps; None for a DDPM, which steps through all T);
- which of part A's knobs it reads: `process_knobs` (those `process` takes), `start_knob` (SDEdit's start).
How figures name it is reporting/wording.py's, keyed by its `name`; its part A section is config/experiments.py's
PART_A_MODELS'.

`objective_of` is the one place the name in the metadata is read; `of_section`, the one place a part B section's
name is (training, before there is any metadata, and the stages declaring what they read).
"""

from dataclasses import dataclass, field

import torch

from difflab.core import ddpm
from difflab.core.flow import flow_loss
from difflab.core.processes import DDPMProcess, FlowProcess, Process
from difflab.errors import InputError

@dataclass(frozen=True)
class DDPM:
    """A DDPM on the noise schedule alpha_bar (float64, its T timesteps); `settings`: what a checkpoint's metadata
    records of the schedule (the linear betas of part B; empty for IF, whose schedule is its scheduler's)."""
    alphas_cumprod: torch.Tensor = field(repr=False)
    settings: dict = field(default_factory=dict)
    name = "ddpm"
    process_knobs = ("stride", "sampler", "ddim_eta", "variance")  # its part A section's common knobs of process()
    start_knob = "i_start"  # where SDEdit starts: an index into the strided timesteps

    @classmethod
    def linear(cls, num_timesteps: int, beta_start: float, beta_end: float) -> "DDPM":
        return cls(ddpm.linear_alphas_cumprod(num_timesteps, beta_start, beta_end),
                   {"num_timesteps": num_timesteps, "beta_start": beta_start, "beta_end": beta_end})

    @classmethod
    def from_meta(cls, meta: dict) -> "DDPM":
        return cls.linear(meta["num_timesteps"], meta["beta_start"], meta["beta_end"])

    @classmethod
    def from_params(cls, params) -> "DDPM":
        """Part B's DDPMs train on params.yaml's ddpm schedule."""
        return cls.linear(**params.ddpm.model_dump())

    @property
    def max_steps(self) -> int:
        return len(self.alphas_cumprod)

    def loss(self, conditioning: str, p_uncond: float):
        return ddpm.ddpm_loss(self.alphas_cumprod, conditioning, p_uncond)

    def model_time(self, t: int) -> float:
        return t / self.max_steps

    def process(self, stride: int = 1, eta: float | None = None, variance: str = "fixed_small",
                step: float = 0.02) -> Process:
        """Every stride-th timestep by the posterior step (eta None, noise of `variance`) or DDIM's (eta in
        [0, 1]); a flow's `step` is not a DDPM's knob."""
        return DDPMProcess(self.alphas_cumprod, stride, eta, variance)

    def sampler(self, num_steps: int | None = None, eta: float | None = None,
                variance: str = "fixed_small") -> tuple[Process, list[int]]:
        """num_steps of the T timesteps (all by default), by the posterior step or DDIM's."""
        process = self.process(eta=eta, variance=variance)
        return process, process.grid(num_steps)

    def num_steps_of(self, params, section: str) -> None:
        return None  # all T (its section has no step knob, and its stages do not read the section for it)

@dataclass(frozen=True)
class Flow:
    """A linear flow (time 0 = noise, 1 = image), sampled by Euler steps."""
    name = "flow"
    process_knobs = ("step",)
    start_knob = "t_start"  # any time in [0, 1)
    settings = {}  # a flow has no schedule to record
    max_steps = None  # no T: any number of Euler steps

    @classmethod
    def from_meta(cls, meta: dict) -> "Flow":
        return cls()

    @classmethod
    def from_params(cls, params) -> "Flow":
        return cls()

    def loss(self, conditioning: str, p_uncond: float):
        return flow_loss(conditioning, p_uncond)

    def model_time(self, t: float) -> float:
        return float(t)

    def process(self, stride: int = 1, eta: float | None = None, variance: str = "fixed_small",
                step: float = 0.02) -> Process:
        """Euler steps of `step`; a DDPM's stride and sampler are not a flow's knobs."""
        return FlowProcess(step)

    def sampler(self, num_steps: int | None = None, eta: float | None = None,
                variance: str = "fixed_small") -> tuple[Process, list[float]]:
        """num_steps Euler steps of 1 / num_steps (required: a flow has no T to default to)."""
        if num_steps is None:
            raise InputError("a flow-matching model needs num_steps, its number of Euler steps")
        if eta is not None:
            raise InputError(f"eta={eta}: DDIM's eta applies to a DDPM; a flow-matching model samples by Euler steps")
        grid = FlowProcess().grid(num_steps)  # a bad num_steps stops here
        return FlowProcess(1 / num_steps), grid

    def num_steps_of(self, params, section: str) -> int:
        return getattr(params, section).num_steps


OBJECTIVES = {"ddpm": DDPM, "flow": Flow}  # the name a checkpoint's metadata records -> its objective


def of_section(section: str) -> type[DDPM | Flow]:
    """The objective a part B model's params section trains for: its name is <objective>_<conditioning>."""
    return OBJECTIVES[section.split("_")[0]]


def objective_of(meta: dict) -> DDPM | Flow:
    """The objective a checkpoint's metadata names ("ddpm" where it names none: weights saved before flow matching
    came), with its schedule; InputError naming an unknown one."""
    name = meta.get("objective", "ddpm")
    if name not in OBJECTIVES:
        raise InputError(f"objective {name!r} in the model's metadata; allowed: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name].from_meta(meta)
