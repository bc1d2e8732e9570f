"""Stage compare_objectives: DDPM against flow matching, the class-conditioned models of both, judged alike.

Each model samples eval.num_samples digits (0-9 in turn, the same seeded noise) at every step count in
objectives.num_steps (the DDPM on that many of its T timesteps, strided, each step adding noise of
objectives.ddpm_variance; flow matching with that many Euler steps; a count above T does not apply to the DDPM),
with its own CFG scale (<model>.guidance_scale), twice: after the last epoch of each, and at equal training epochs
(the latest epoch both models saved weights after). The judge scores each set: accuracy on the digits asked for,
Frechet distance to the test set. Which gives better digits per model call: accuracy.csv and fd.csv (one column per
model, for `dvc plots`), metrics.json and a figure.
"""

import json
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, ParamError, stage_params
from difflab.config.runtime import for_stage
from difflab.evaluation.sample_quality import judge_samples, reference, write_steps_comparison
from difflab.models.checkpoints import load_model

OUT = Path("reports/objectives")
OBJECTIVES = ("ddpm", "flow")


def runs(params: dict) -> list[tuple[str, str, int, Path]]:
    """(column, objective, epoch, weights) to judge: each model's final weights, and both at the latest epoch they
    share (an error where they share none)."""
    saved = {o: {e: path for _, e, path in layout.saved_weights(f"{o}_class", params[f"{o}_class"])}
             for o in OBJECTIVES}
    common = set(saved["ddpm"]) & set(saved["flow"])
    if not common:
        raise ParamError(f"ddpm_class saves weights after epochs {sorted(saved['ddpm'])} and flow_class after "
                         f"{sorted(saved['flow'])}: no epoch in common to compare them at; allowed: add one of the "
                         "first to flow_class.snapshot_epochs")
    equal = max(common)
    final = {o: params[f"{o}_class"]["epochs"] for o in OBJECTIVES}
    return [*((f"{o}_final", o, final[o], saved[o][final[o]]) for o in OBJECTIVES),
            *((f"{o}_equal_epochs", o, equal, saved[o][equal]) for o in OBJECTIVES)]


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data.dir", "eval.num_samples", "objectives", "ddpm.num_timesteps",
                                       *(f"{o}_class.{k}" for o in OBJECTIVES for k in ("epochs", "guidance_scale")),
                                       "ddpm_class.snapshot_epoch", "flow_class.snapshot_epochs"))
    try:
        todo = runs(params)
    except ParamError as e:
        raise SystemExit(f"compare_objectives: error: {e}")
    rt, batch, n = for_stage(params), params["sample_batch_size"], params["eval"]["num_samples"]
    ref = reference(layout.model_paths("judge").final, params["data"]["dir"], n, rt, batch)
    digits = [i % 10 for i in range(n)]
    steps_list = params["objectives"]["num_steps"]
    table: dict[str, dict[int, dict]] = {}
    labels, epochs = {}, {}  # column -> line label, epoch
    judged: dict[Path, dict[int, dict]] = {}  # weights judged once, whichever columns show them
    for column, objective, epoch, path in todo:
        scale = params[f"{objective}_class"]["guidance_scale"]
        labels[column] = f"{'DDPM' if objective == 'ddpm' else 'flow matching'}, epoch {epoch}, CFG {scale}"
        epochs[column] = epoch
        if path not in judged:
            unet, meta = load_model(path, rt.device)
            steps = [k for k in steps_list if objective == "flow" or k <= params["ddpm"]["num_timesteps"]]
            variance = {"variance": params["objectives"]["ddpm_variance"]} if objective == "ddpm" else {}
            judged[path] = {k: judge_samples(ref, unet, meta, n, params["seed"], rt, batch, digits, scale, k,
                                             f"{column}, {k} steps", **variance) for k in steps}
        table[column] = judged[path]
    metrics = write_steps_comparison(
        OUT, table, steps_list, labels, ref.floor, "objectives.png", "DDPM against flow matching, class-conditioned, "
        f"each at its CFG scale ({n} samples per point)",
        {"fd_floor_train_vs_test": ref.floor, "num_samples": n, **{c: {"epoch": e} for c, e in epochs.items()}},
        dashed=[c for c in table if "equal" in c])
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
