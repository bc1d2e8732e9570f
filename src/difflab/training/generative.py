"""Training the four generative UNets (DDPM or flow matching, time- or class-conditioned) with one loop: the loss
a section asks for, and the weights it leaves after every saved epoch with the metadata the sampling stages read."""

from dataclasses import dataclass

from difflab.config import layout
from difflab.config.schema import Params
from difflab.core.objectives import of_section
from difflab.models.checkpoints import save_model
from difflab.reporting.wording import what
from difflab.training.loop import LossFn
from difflab.training.sections import finish, fit_section


@dataclass
class Objective:
    """What a generative section trains for: the loss, the settings its weights' metadata and fingerprint record,
    and how the loss figure names it."""
    loss: LossFn
    settings: dict
    what: str
    p_uncond: float
    name: str  # the objective's, recorded in the weights' metadata


def diffusion_objective(params: Params, section: str) -> Objective:
    """The loss of a generative section (<objective>_<conditioning>): the DDPM's noise prediction on the ddpm
    section's schedule, or flow matching's velocity (core/objectives.py). A time-conditioned model has no class to drop, so its p_uncond is 0."""
    conditioning = section.split("_")[1]
    p_uncond = getattr(params, section).p_uncond if conditioning == "class" else 0.0
    o = of_section(section).from_params(params)
    return Objective(o.loss(conditioning, p_uncond), o.settings, what(o), p_uncond, o.name)


def train_diffusion(params: Params, section: str) -> None:
    """Train one of the generative UNets and save its weights after every epoch layout.saved_weights names, with
    the metadata the sampling stages read (conditioning, objective, schedule, p_uncond, dataset). Under
    `accelerate launch` only the main process writes."""
    conditioning = section.split("_")[1]
    p = getattr(params, section)
    obj = diffusion_objective(params, section)
    result = fit_section(params, section, conditioning, obj.loss, f"{obj.name}|{obj.settings}|p_uncond={obj.p_uncond}")
    if not result.main:
        return
    meta = {"hidden": p.hidden, "conditioning": conditioning, "objective": obj.name, **obj.settings,
            "p_uncond": obj.p_uncond, "dataset": params.data.dataset}
    for label, epoch, path in layout.saved_weights(section, p):
        weights = result.state_dict if label == "final" else result.snapshots[epoch]
        save_model(path, weights, {**meta, "epoch": epoch})
    kind = "Time-conditioned" if conditioning == "time" else f"Class-conditioned (p_uncond={obj.p_uncond})"
    finish(section, p, result, f"{kind} {obj.what}, D={p.hidden}, batch {p.batch_size}, lr {p.lr}")
