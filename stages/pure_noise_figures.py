"""Stage pure_noise_figures: what the denoiser trained on pure noise (stage train_pure_noise) draws: its outputs for
pure_noise.num_digits fresh noise images after pure_noise.snapshot_epoch and after the last epoch, beside the mean
of the digits it trained on, and how far the outputs lie from that mean (reports/pure_noise/metrics.json).

The input z ~ N(0, I) says nothing about which digit x it was paired with, so the L2 loss is minimised by one
image for every z: the mean training digit E[x]. The figure shows the model getting there.
"""

import json

import torch

from difflab.config import layout
from difflab.config.params import stage_params
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import image_rows


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root mean square difference, per pixel, averaged over the images."""
    return (a - b).pow(2).mean().sqrt().item()


@torch.no_grad()
def main() -> None:
    params, _ = stage_params(__doc__, ("seed", "data.dir", "pure_noise"))
    p = params["pure_noise"]
    paths = layout.model_paths("pure_noise")
    train_x, _ = load_mnist(params["data"]["dir"], "train", p["train_limit"])
    mean_digit = train_x.mean(0, keepdim=True)
    z = torch.randn((p["num_digits"], 1, 28, 28), generator=torch.Generator().manual_seed(params["seed"]))
    early, early_meta = load_model(paths.snapshot)
    final, final_meta = load_model(paths.final)
    out_early, out_final = early(z), final(z)
    metrics = {
        "rms_output_to_mean_digit": rms(out_final, mean_digit),  # small: the model draws the mean digit
        "rms_between_outputs": rms(out_final, out_final.mean(0, keepdim=True)),  # small: whatever the noise
        "rms_digit_to_mean_digit": rms(train_x[:1000], mean_digit),  # what a real digit differs from the mean
        f"rms_output_to_mean_digit_epoch{early_meta['epoch']}": rms(out_early, mean_digit),
    }
    image_rows([z.clamp(0, 1), out_early, out_final, mean_digit], paths.reports / "samples.png",
               title="Denoising pure noise: the model can only learn the average digit",
               row_labels=["input z ~ N(0, I)", f"D(z), epoch {early_meta['epoch']}", f"D(z), epoch {final_meta['epoch']}",
                           "mean training digit"])
    (paths.reports / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
