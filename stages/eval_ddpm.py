"""Stage eval_ddpm_time / eval_ddpm_class: sample quality of the trained DDPMs, measured with the judge.

- judge Frechet distance (FID's formula on the judge's 128-d features; not Inception FID) between eval.num_samples
  generated digits and the MNIST test set, beside the same distance for as many real training digits (the floor);
- class model: for every CFG scale in eval.guidance_scales, the judge's accuracy on the digits asked for and the
  distance above (metrics, a table for `dvc plots`, and a figure).
"""

import csv
import json

import torch

from difflab import layout
from difflab.checkpoints import load_model
from difflab.data import load_mnist
from difflab.figures import metric_curve
from difflab.generate import generate
from difflab.judge import frechet_distance, judge_outputs, load_judge
from difflab.params import SAMPLING, stage_params
from difflab.runtime import for_stage


@torch.no_grad()
def main() -> None:
    params, args = stage_params(
        __doc__, (*SAMPLING, "data", "eval"),
        extra_args=lambda p: p.add_argument("conditioning", choices=("time", "class"), help="which model to judge"))
    p, rt = params["eval"], for_stage(params)
    device, batch = rt.device, params["sample_batch_size"]
    section = f"ddpm_{args.conditioning}"
    paths = layout.model_paths(section)
    judge = load_judge(layout.model_paths("judge").final, device)
    unet, meta = load_model(paths.final, device)
    n = p["num_samples"]
    test_x, _ = load_mnist(params["data"]["dir"], "test")
    train_x, _ = load_mnist(params["data"]["dir"], "train", n)
    _, test_f = judge_outputs(judge, test_x.to(device), batch)
    _, train_f = judge_outputs(judge, train_x.to(device), batch)
    metrics = {"num_samples": n, "fd_floor_train_vs_test": frechet_distance(train_f, test_f)}

    def judged(digits: list[int] | None, scale: float, label: str) -> dict:
        g = torch.Generator(device=device).manual_seed(params["seed"])
        x_T = torch.randn((n, 1, 28, 28), generator=g, device=device)
        x0 = generate(unet, meta, x_T, g, digits, scale, progress=label, runtime=rt, batch_size=batch)
        predicted, feats = judge_outputs(judge, x0, batch)
        out = {"fd_to_test": frechet_distance(feats, test_f)}
        if digits is not None:
            out["judge_accuracy"] = (predicted == torch.tensor(digits)).float().mean().item()
        return out

    if args.conditioning == "time":
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
                     paths.reports / "cfg_accuracy.png", f"Class-conditioned DDPM: judged accuracy vs CFG scale "
                     f"({n} samples)", "guidance scale", "fraction judged as the digit asked for")
        metric_curve(scales, {"generated vs test": [sweep[f"cfg_{s}"]["fd_to_test"] for s in scales],
                              "floor: train vs test": [metrics["fd_floor_train_vs_test"]] * len(scales)},
                     paths.reports / "cfg_fd.png", f"Judge Frechet distance vs CFG scale ({n} samples)",
                     "guidance scale", "judge Frechet distance (lower is closer to MNIST)")
    (paths.reports / "eval.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
