"""The comparisons by sampling steps, each judged alike (sample_quality.judge_samples on eval.num_samples digits
0-9 in turn, from the same seeded noise) and written alike (sample_quality.write_steps_comparison):

- objectives: the class-conditioned DDPM against class-conditioned flow matching, each at its own CFG scale,
  after the last epoch of each and at the latest epoch both saved weights after;
- samplers: the class-conditioned DDPM sampled by the DDPM posterior step (once per noise variance) and by DDIM.
"""

from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.metric_files import Objectives, Samplers
from difflab.errors import ParamError
from difflab.config.runtime import Runtime
from difflab.config.schema import Params
from difflab.core.objectives import objective_of
from difflab.evaluation.sample_quality import each_digit, judge_samples, run_reference, write_steps_comparison
from difflab.models.checkpoints import load_model
from difflab.models.unet import UNet
from difflab.reporting.wording import wording
from difflab.sampling.generate import steps_of

OBJECTIVES = ("ddpm", "flow")  # the class models compared: <objective>_class


def objective_runs(params: Params) -> list[tuple[str, str, int, Path]]:
    """(column, section, epoch, weights) to judge: each model's final weights, and both at the latest epoch they
    share (an error where they share none)."""
    saved = {o: {e: path for _, e, path in layout.saved_weights(f"{o}_class", getattr(params, f"{o}_class"))}
             for o in OBJECTIVES}
    common = set(saved["ddpm"]) & set(saved["flow"])
    if not common:
        raise ParamError(f"ddpm_class saves weights after epochs {sorted(saved['ddpm'])} and flow_class after "
                         f"{sorted(saved['flow'])}: no epoch in common to compare them at; allowed: add one of the "
                         "first to flow_class.snapshot_epochs")
    equal = max(common)
    final = {o: getattr(params, f"{o}_class").epochs for o in OBJECTIVES}
    return [*((f"{o}_final", f"{o}_class", final[o], saved[o][final[o]]) for o in OBJECTIVES),
            *((f"{o}_equal_epochs", f"{o}_class", equal, saved[o][equal]) for o in OBJECTIVES)]


@torch.no_grad()
def compare_objectives(params: Params, runs: list[tuple[str, str, int, Path]], runtime: Runtime,
                       out: Path) -> Objectives:
    """Judge each of objective_runs' weights at every step count of objectives.num_steps (the DDPM strided over its
    T timesteps with objectives.ddpm_variance, only at counts up to T; flow matching with as many Euler steps) and
    write the comparison into `out`, the equal-epoch columns dashed. Weights two columns share are judged once.
    Returns what metrics.json holds."""
    batch, n = params.sample_batch_size, params.eval.num_samples
    ref = run_reference(params, runtime)
    digits = each_digit(n)
    steps_list = params.objectives.num_steps
    table: dict[str, dict[int, dict]] = {}
    labels, epochs = {}, {}  # column -> line label, epoch
    judged: dict[Path, dict[int, dict]] = {}
    for column, section, epoch, path in runs:
        scale = getattr(params, section).guidance_scale
        if path not in judged:
            unet, meta = load_model(path, runtime.device)
            objective = objective_of(meta)
            steps = [k for k in steps_list if k <= (objective.max_steps or k)]  # a DDPM: counts up to its T
            judged[path] = wording(objective).title, {
                k: judge_samples(ref, unet, meta, n, params.seed, runtime, batch, digits, scale, k,
                                 f"{column}, {k} steps", variance=params.objectives.ddpm_variance) for k in steps}
        title, table[column] = judged[path]
        labels[column] = f"{title}, epoch {epoch}, CFG {scale}"
        epochs[column] = epoch
    return write_steps_comparison(
        out, table, steps_list, labels, ref.floor, "objectives.png", "DDPM against flow matching, class-conditioned, "
        f"each at its CFG scale ({n} samples per point)",
        {"fd_floor_train_vs_test": ref.floor, "num_samples": n, **{c: {"epoch": e} for c, e in epochs.items()}},
        Objectives, dashed=[c for c in table if "equal" in c])


def check_step_counts(meta: dict, counts: list[int]) -> None:
    """Every step count fits the model (a DDPM's T), checked before any sampling: an InputError where one does
    not."""
    for k in counts:
        steps_of(meta, k)


@torch.no_grad()
def compare_samplers(params: Params, unet: UNet, meta: dict, runtime: Runtime, out: Path) -> Samplers:
    """Judge the class-conditioned DDPM (unet, meta) at every count of samplers.num_steps, sampled by the DDPM step
    once per variance in samplers.variances and by DDIM (eta samplers.ddim_eta), all at ddpm_class.guidance_scale,
    and write the comparison into `out`, the fixed_large column dashed (the DDPM step's two noises share a colour).
    Returns what metrics.json holds."""
    p, batch, n = params.samplers, params.sample_batch_size, params.eval.num_samples
    scale = params.ddpm_class.guidance_scale
    ref = run_reference(params, runtime)
    digits = each_digit(n)
    # columns: the variance's name (not "ddpm", a params section's name, which make compare would take for params)
    samplers = {v: ({"eta": None, "variance": v}, f"DDPM step, {v}") for v in p.variances}
    samplers["ddim"] = {"eta": p.ddim_eta}, f"DDIM, eta {p.ddim_eta}"
    table = {column: {k: judge_samples(ref, unet, meta, n, params.seed, runtime, batch, digits, scale, k,
                                       f"{label}, {k} steps", **step) for k in p.num_steps}
             for column, (step, label) in samplers.items()}
    return write_steps_comparison(
        out, table, p.num_steps, {c: f"{label}, CFG {scale}" for c, (_, label) in samplers.items()}, ref.floor,
        "samplers.png", f"Class-conditioned DDPM (epoch {meta['epoch']}) sampled by the DDPM step and by DDIM "
        f"({n} samples per point)", {"fd_floor_train_vs_test": ref.floor, "num_samples": n, "ddim_eta": p.ddim_eta},
        Samplers, dashed=[c for c in table if c == "fixed_large"])
