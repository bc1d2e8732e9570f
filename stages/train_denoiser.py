"""Stage train_denoiser: train the single-step UNet denoiser D(x + sigma * eps) ~ x on MNIST (SPEC B1).

Writes the final weights and those after denoiser.snapshot_epoch, the per-step loss (DVCLive) and its figure.
An interrupted run resumes from checkpoints/denoiser.
"""

from difflab import layout
from difflab.data import load_mnist
from difflab.denoiser import denoiser_loss
from difflab.figures import loss_curve
from difflab.params import RUNTIME, seed_everything, stage_params
from difflab.runtime import for_stage
from difflab.train import config_from_params, fit
from difflab.checkpoints import discard_state, save_model
from difflab.unet import UNet


def main() -> None:
    params, _ = stage_params(__doc__, (*RUNTIME, "data", "denoiser"))
    for_stage(params)  # precision etc. checked against this device before any work
    p = params["denoiser"]
    images, labels = load_mnist(params["data"]["dir"], "train", p["train_limit"])
    seed_everything(params["seed"])
    model = UNet(p["hidden"], "none")
    cfg = config_from_params(params, p)
    paths = layout.model_paths("denoiser")
    result = fit(model, denoiser_loss(p["sigma"]), images, labels, cfg, paths.checkpoint, paths.log_dir,
                 loss_settings=f"sigma={p['sigma']}")
    if not result.main:  # under `accelerate launch` only the main process writes the outputs
        return
    meta = {"hidden": p["hidden"], "conditioning": "none", "sigma": p["sigma"]}
    save_model(paths.snapshot, result.snapshot_state_dict, {**meta, "epoch": p["snapshot_epoch"]})
    save_model(paths.final, result.state_dict, {**meta, "epoch": p["epochs"]})
    loss_curve(result.losses, len(result.losses) // p["epochs"], paths.loss_figure,
               f"Single-step denoiser (sigma={p['sigma']}, D={p['hidden']}, batch {p['batch_size']}, lr {p['lr']})")
    discard_state(paths.checkpoint)  # the outputs are saved: nothing left to resume


if __name__ == "__main__":
    main()
