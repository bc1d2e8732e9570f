"""How figures, titles and the explorer name each objective (core/objectives.py) and its process
(core/processes.py), keyed by the objective's name: the maths lives there, its words here, so a reworded title
touches no maths."""

from collections.abc import Callable
from dataclasses import dataclass

from difflab.core.objectives import DDPM, Flow
from difflab.core.processes import Process


@dataclass(frozen=True)
class Wording:
    """`title`: the model in figure titles; `samplers`: the explorer's names of the samplers it takes; `forward`,
    `update`: the formulas part A's figures print (the forward process; the update to the clean image, predicted
    against true: the course's 1.4); `label(t)`: a time of its grid; `start_label(start, t)`, `start_title(start,
    t)`: a run's start (its start knob, and the time that sits at) under an image and in a title; `about(process)`:
    its sampler, as every part A figure's last line names it."""
    title: str
    samplers: tuple[str, ...]
    forward: str
    update: str
    label: Callable[[float], str]
    start_label: Callable[[float, float], str]
    start_title: Callable[[float, float], str]
    about: Callable[[Process], str]


WORDING = {
    "ddpm": Wording(
        title="DDPM", samplers=("DDPM step", "DDIM"),
        forward="x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps", update="x0_hat - x_t against x0 - x_t",
        label=lambda t: f"t = {t}", start_label=lambda i_start, t: f"i_start {i_start}\n(t = {t})",
        start_title=lambda i_start, t: f"i_start = {i_start} (t = {t})",
        about=lambda p: f"DDIM eta {p.eta}" if p.eta is not None else f"DDPM step, {p.variance}"),
    "flow": Wording(
        title="flow matching", samplers=("flow Euler",),
        forward="x_t = (1 - t) eps + t x1", update="(1 - t) u_hat against x1 - x_t",
        label=lambda t: f"t = {t:.2f}", start_label=lambda t_start, t: f"t_start {t_start:g}",
        start_title=lambda t_start, t: f"t_start = {t_start:g}", about=lambda p: f"Euler, h = {p.step:g}"),
}


def wording(objective: DDPM | Flow) -> Wording:
    return WORDING[objective.name]


def what(objective: DDPM | Flow) -> str:
    """How a loss figure names the objective: its title, a DDPM's with its T ("DDPM, T=300")."""
    title = wording(objective).title
    return title if objective.max_steps is None else f"{title}, T={objective.max_steps}"
