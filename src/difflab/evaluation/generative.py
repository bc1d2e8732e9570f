"""Sample quality of one trained generative UNet (DDPM or flow matching), measured with the judge: the Frechet
distance of its samples to the test set beside the floor, and for a class-conditioned model the judge's accuracy
and that distance at every CFG scale of eval.guidance_scales (a table for `dvc plots` and two figures)."""

import csv
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.metric_files import ClassEval, TimeEval
from difflab.config.schema import Params
from difflab.config.runtime import Runtime
from difflab.core.objectives import objective_of
from difflab.evaluation.sample_quality import each_digit, judge_samples, run_reference
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import metric_curve
from difflab.reporting.wording import wording


@torch.no_grad()
def judge_model(params: Params, section: str, runtime: Runtime) -> TimeEval | ClassEval:
    """The section's final weights judged on eval.num_samples digits from the seeded noise (the DDPMs with all T
    steps, the flow models with <model>.num_steps Euler steps); a class-conditioned model asks for the digits 0-9
    in turn, once per CFG scale, and its sweep is written beside its reports (write_cfg_sweep). Every distance,
    the floor's too, comes with its 95 % interval from eval.bootstrap_resamples draws (<key>_lo, <key>_hi). Returns
    the metrics eval.json holds."""
    p, batch = params.eval, params.sample_batch_size
    unet, meta = load_model(layout.model_paths(section).final, runtime.device)
    objective = objective_of(meta)
    num_steps = objective.num_steps_of(params, section)  # a flow's Euler steps; None: a DDPM's T
    n = p.num_samples
    ref = run_reference(params, runtime, intervals=True)
    metrics = {"num_samples": n, "bootstrap_resamples": p.bootstrap_resamples, "fd_floor_train_vs_test": ref.floor,
               "fd_floor_train_vs_test_lo": ref.floor_interval[0], "fd_floor_train_vs_test_hi": ref.floor_interval[1]}

    def judged(digits: list[int] | None, scale: float, label: str) -> dict:
        return judge_samples(ref, unet, meta, n, params.seed, runtime, batch, digits, scale, num_steps, label,
                             resamples=p.bootstrap_resamples)

    if unet.conditioning == "time":
        metrics.update(judged(None, 1.0, "sampling"))
    else:
        digits = each_digit(n)
        sweep = {s: judged(digits, s, f"CFG {s}") for s in p.guidance_scales}
        metrics["cfg"] = sweep
        write_cfg_sweep(layout.model_paths(section).reports, sweep, p.guidance_scales, ref.floor,
                        f"Class-conditioned {wording(objective).title}", n)
    return (TimeEval if unet.conditioning == "time" else ClassEval)(**metrics)


def write_cfg_sweep(folder: Path, sweep: dict[float, dict], scales: list[float], floor: float, model: str,
                    n: int) -> None:
    """cfg_sweep.csv (a row per CFG scale: accuracy and distance, for `dvc plots`), cfg_accuracy.png and cfg_fd.png
    (the distance beside the floor), sweep[scale] being judge_samples' result at that scale."""
    with open(folder / "cfg_sweep.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["guidance_scale", "judge_accuracy", "fd_to_test"])
        for s in scales:
            w.writerow([s, f"{sweep[s]['judge_accuracy']:.6g}", f"{sweep[s]['fd_to_test']:.6g}"])
    metric_curve(scales, {"judge accuracy": [sweep[s]["judge_accuracy"] for s in scales]},
                 folder / "cfg_accuracy.png", f"{model}: judged accuracy vs CFG scale ({n} samples)",
                 "guidance scale", "fraction judged as the digit asked for")
    metric_curve(scales, {"generated vs test": [sweep[s]["fd_to_test"] for s in scales],
                          "floor: train vs test": [floor] * len(scales)},
                 folder / "cfg_fd.png", f"{model}: judge Frechet distance vs CFG scale ({n} samples)",
                 "guidance scale", "judge Frechet distance (lower is closer to MNIST)")
