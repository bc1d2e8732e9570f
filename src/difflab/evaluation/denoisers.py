"""The single-step denoisers measured: the one trained at denoiser.sigma on noise levels it was not trained for
(SPEC B1, out of distribution), and what the one trained on pure noise draws (the mean training digit)."""

import csv
from pathlib import Path

import torch

from difflab.config import layout
from difflab.config.metric_files import Ood, PureNoise
from difflab.config.runtime import Runtime
from difflab.config.schema import Params
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import image_rows, metric_curve
from difflab.training.denoiser import add_gaussian_noise, evaluate

OOD_COLUMNS = ("psnr_db", "noisy_psnr_db", "mse", "noisy_mse")


@torch.no_grad()
def out_of_distribution(params: Params, runtime: Runtime) -> Ood:
    """Test MSE and PSNR of the denoised digits beside those of the noisy input at every sigma in denoiser.sigmas,
    as a table and a figure in the denoiser's reports (ood.csv, ood_psnr.png), and a figure of a few digits at each
    sigma (ood.png). One generator seeded with `seed` draws all the noise, the figure's after the metrics'. Returns
    the metrics (ood.json)."""
    p = params.denoiser
    device = runtime.device
    paths = layout.model_paths("denoiser")
    model, meta = load_model(paths.final, device)
    x, _ = load_mnist(params.data.dir, "test", params.ood.test_limit)
    x = x.to(device)
    g = torch.Generator(device=device).manual_seed(params.seed)
    metrics = Ood(sigma={s: evaluate(model, x, s, g, params.sample_batch_size, runtime) for s in p.sigmas})
    write_ood_table(paths.reports / "ood.csv", metrics, p.sigmas)
    finite = [s for s in p.sigmas if s > 0]  # PSNR of the noisy input is infinite at sigma 0
    metric_curve(finite, {"denoised D(z)": [metrics.sigma[s].psnr_db for s in finite],
                          "noisy input z": [metrics.sigma[s].noisy_psnr_db for s in finite]},
                 paths.reports / "ood_psnr.png", f"Denoiser trained at sigma={meta['sigma']}: test PSNR vs sigma",
                 "sigma", "PSNR (dB, higher is better)", mark_x=meta["sigma"])
    ood_figure(model, x[:p.num_digits], p.sigmas, g, meta["sigma"], paths.reports / "ood.png")
    return metrics


def write_ood_table(path: Path, metrics: Ood, sigmas: list[float]) -> None:
    """A row per sigma for `dvc plots`; a PSNR that is None (no error at all: the noisy input at sigma 0) is left
    empty."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sigma", *OOD_COLUMNS])
        for s in sigmas:
            m = metrics.sigma[s].model_dump()
            w.writerow([s] + ["" if m[k] is None else f"{m[k]:.6g}" for k in OOD_COLUMNS])


def ood_figure(model: torch.nn.Module, digits: torch.Tensor, sigmas: list[float], g: torch.Generator,
               trained_sigma: float, path: Path) -> None:
    """Up to three digits, each noised at every sigma (noise from g) and denoised: a row of noisy inputs and one of
    the model's outputs per digit."""
    rows, labels = [], []
    for i in range(min(3, len(digits))):
        z = torch.stack([add_gaussian_noise(digits[i], s, g) for s in sigmas])
        rows += [z.clamp(0, 1), model(z)]
        labels += [f"digit {i + 1}: noisy", f"digit {i + 1}: D(z)"]
    image_rows(rows, path, row_labels=labels, col_labels=[f"sigma = {s}" for s in sigmas],
               title=f"Out-of-distribution noise levels (trained at sigma = {trained_sigma})")


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root mean square difference, per pixel, averaged over the images."""
    return (a - b).pow(2).mean().sqrt().item()


@torch.no_grad()
def pure_noise_outputs(params: dict) -> PureNoise:
    """The pure-noise denoiser's outputs for pure_noise.num_digits fresh noise images (seeded with `seed`) after
    snapshot_epoch and the last epoch, beside the mean training digit (its reports' samples.png).
    The input says nothing of the digit it was paired with, so the L2 loss is minimised by the mean digit for every
    input: the metrics (metrics.json) say how close the outputs come to it and to each other."""
    p = params.pure_noise
    paths = layout.model_paths("pure_noise")
    train_x, _ = load_mnist(params.data.dir, "train", p.train_limit)
    mean_digit = train_x.mean(0, keepdim=True)
    z = torch.randn((p.num_digits, 1, 28, 28), generator=torch.Generator().manual_seed(params.seed))
    early, early_meta = load_model(paths.snapshot)
    final, final_meta = load_model(paths.final)
    out_early, out_final = early(z), final(z)
    metrics = PureNoise(
        rms_output_to_mean_digit=rms(out_final, mean_digit),  # small: the model draws the mean digit
        rms_between_outputs=rms(out_final, out_final.mean(0, keepdim=True)),  # small: whatever the noise
        rms_digit_to_mean_digit=rms(train_x[:1000], mean_digit),  # what a real digit differs from the mean
        earlier={early_meta["epoch"]: rms(out_early, mean_digit)})
    image_rows([z.clamp(0, 1), out_early, out_final, mean_digit], paths.reports / "samples.png",
               title="Denoising pure noise: the model can only learn the average digit",
               row_labels=["input z ~ N(0, I)", f"D(z), epoch {early_meta['epoch']}",
                           f"D(z), epoch {final_meta['epoch']}", "mean training digit"])
    return metrics
