"""Stage eval_ood: the trained denoiser on noise levels it was not trained for (SPEC B1, out-of-distribution).

For every sigma in denoiser.sigmas: test MSE and PSNR of the denoised digits beside those of the noisy input
(metrics for `dvc metrics`, a table for `dvc plots`), and a figure of a few digits at each sigma.
"""

import csv
import json

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import image_rows, metric_curve
from difflab.training.denoiser import add_gaussian_noise, evaluate


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data", "denoiser", "ood"))
    p = params["denoiser"]
    rt = for_stage(params)
    device = rt.device
    paths = layout.model_paths("denoiser")
    model, meta = load_model(paths.final, device)
    x, _ = load_mnist(params["data"]["dir"], "test", params["ood"]["test_limit"])
    x = x.to(device)
    g = torch.Generator(device=device).manual_seed(params["seed"])

    metrics = {f"sigma_{s}": evaluate(model, x, s, g, params["sample_batch_size"], rt) for s in p["sigmas"]}
    (paths.reports / "ood.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    with open(paths.reports / "ood.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sigma", "psnr_db", "noisy_psnr_db", "mse", "noisy_mse"])
        for s in p["sigmas"]:
            m = metrics[f"sigma_{s}"]
            w.writerow([s] + ["" if m[k] is None else f"{m[k]:.6g}" for k in ("psnr_db", "noisy_psnr_db", "mse", "noisy_mse")])
    finite = [s for s in p["sigmas"] if s > 0]  # PSNR of the noisy input is infinite at sigma 0
    metric_curve(finite, {"denoised D(z)": [metrics[f"sigma_{s}"]["psnr_db"] for s in finite],
                          "noisy input z": [metrics[f"sigma_{s}"]["noisy_psnr_db"] for s in finite]},
                 paths.reports / "ood_psnr.png", f"Denoiser trained at sigma={meta['sigma']}: test PSNR vs sigma",
                 "sigma", "PSNR (dB, higher is better)", mark_x=meta["sigma"])

    digits = x[:p["num_digits"]]
    rows, labels = [], []
    for i in range(min(3, len(digits))):
        z = torch.stack([add_gaussian_noise(digits[i], s, g) for s in p["sigmas"]])
        rows += [z.clamp(0, 1), model(z)]
        labels += [f"digit {i + 1}: noisy", f"digit {i + 1}: D(z)"]
    image_rows(rows, paths.reports / "ood.png", row_labels=labels, col_labels=[f"sigma = {s}" for s in p["sigmas"]],
               title=f"Out-of-distribution noise levels (trained at sigma = {meta['sigma']})")


if __name__ == "__main__":
    main()
