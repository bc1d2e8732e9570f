"""Stage eval_<model>: sample quality of a trained generative UNet (DDPM or flow matching), measured with the judge.

- judge Frechet distance (FID's formula on the judge's 128-d features; not Inception FID) between eval.num_samples
  generated digits and the MNIST test set, beside the same distance for as many real training digits (the floor);
- class-conditioned models: for every CFG scale in eval.guidance_scales, the judge's accuracy on the digits asked
  for and the distance above (metrics, a table for `dvc plots`, and figures).
The DDPMs sample with all T steps, the flow models with <model>.num_steps Euler steps.
"""

import csv
import json

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, declares, stage_params
from difflab.config.runtime import for_stage
from difflab.evaluation.sample_quality import judge_samples, reference
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import metric_curve

MODELS = ("ddpm_time", "ddpm_class", "flow_time", "flow_class")


@torch.no_grad()
def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*SAMPLING, "data", "eval", *((f"{a.model}.num_steps",) if a.model.startswith("flow")
                                                         else ())),
        extra_args=lambda p: p.add_argument("model", choices=MODELS, help="which model to judge"))
    p, rt = params["eval"], for_stage(params)
    device, batch = rt.device, params["sample_batch_size"]
    section = args.model
    num_steps = params[section]["num_steps"] if declares(f"{section}.num_steps") else None  # flow: Euler steps
    what = "DDPM" if section.startswith("ddpm") else "flow matching"
    paths = layout.model_paths(section)
    unet, meta = load_model(paths.final, device)
    n = p["num_samples"]
    ref = reference(layout.model_paths("judge").final, params["data"]["dir"], n, rt, batch)
    metrics = {"num_samples": n, "fd_floor_train_vs_test": ref.floor}

    def judged(digits: list[int] | None, scale: float, label: str) -> dict:
        return judge_samples(ref, unet, meta, n, params["seed"], rt, batch, digits, scale, num_steps, label)

    if unet.conditioning == "time":
        metrics.update(judged(None, 1.0, "sampling"))
    else:
        digits = [i % 10 for i in range(n)]
        sweep = {f"cfg_{s}": judged(digits, s, f"CFG {s}") for s in p["guidance_scales"]}
        metrics.update(sweep)
        with open(paths.reports / "cfg_sweep.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["guidance_scale", "judge_accuracy", "fd_to_test"])
            for s in p["guidance_scales"]:
                w.writerow([s, f"{sweep[f'cfg_{s}']['judge_accuracy']:.6g}", f"{sweep[f'cfg_{s}']['fd_to_test']:.6g}"])
        scales = p["guidance_scales"]
        metric_curve(scales, {"judge accuracy": [sweep[f"cfg_{s}"]["judge_accuracy"] for s in scales]},
                     paths.reports / "cfg_accuracy.png", f"Class-conditioned {what}: judged accuracy vs CFG scale "
                     f"({n} samples)", "guidance scale", "fraction judged as the digit asked for")
        metric_curve(scales, {"generated vs test": [sweep[f"cfg_{s}"]["fd_to_test"] for s in scales],
                              "floor: train vs test": [metrics["fd_floor_train_vs_test"]] * len(scales)},
                     paths.reports / "cfg_fd.png", f"Class-conditioned {what}: judge Frechet distance vs CFG scale "
                     f"({n} samples)", "guidance scale", "judge Frechet distance (lower is closer to MNIST)")
    (paths.reports / "eval.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
