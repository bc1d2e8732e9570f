"""Stage train_denoiser / train_pure_noise: train the single-step UNet denoiser on MNIST.

- denoiser (SPEC B1): D(x + sigma * eps) ~ x, the noise level fixed at denoiser.sigma;
- pure_noise (the course's "denoising pure noise"): D(z) ~ x with z ~ N(0, I) independent of x, which can only
  learn the average digit (stage pure_noise_figures shows it).
Writes the final weights and those after <model>.snapshot_epoch, the per-step loss (DVCLive) and its figure.
An interrupted run resumes from checkpoints/<model>.
"""

from difflab.config import layout
from difflab.config.params import RUNTIME, seed_everything, stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import discard_state, save_model
from difflab.models.unet import UNet
from difflab.reporting.figures import loss_curve
from difflab.training.denoiser import denoiser_loss, pure_noise_loss
from difflab.training.loop import config_from_params, fit


def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*RUNTIME, "data", a.model),
        extra_args=lambda p: p.add_argument("model", nargs="?", default="denoiser", choices=("denoiser", "pure_noise"),
                                            help="which denoiser to train (default: %(default)s)"))
    for_stage(params)  # precision etc. checked against this device before any work
    section = args.model
    p = params[section]
    images, labels = load_mnist(params["data"]["dir"], "train", p["train_limit"])
    seed_everything(params["seed"])
    model = UNet(p["hidden"], "none")
    cfg = config_from_params(params, section)
    paths = layout.model_paths(section)
    if section == "denoiser":
        loss, settings, what = denoiser_loss(p["sigma"]), f"sigma={p['sigma']}", f"sigma={p['sigma']}"
    else:
        loss, settings, what = pure_noise_loss(), "pure noise", "input pure noise"
    result = fit(model, loss, images, labels, cfg, paths.checkpoint, paths.log_dir, loss_settings=settings)
    if not result.main:  # under `accelerate launch` only the main process writes the outputs
        return
    meta = {"hidden": p["hidden"], "conditioning": "none", **({"sigma": p["sigma"]} if "sigma" in p else {})}
    save_model(paths.snapshot, result.snapshots[p["snapshot_epoch"]], {**meta, "epoch": p["snapshot_epoch"]})
    save_model(paths.final, result.state_dict, {**meta, "epoch": p["epochs"]})
    title = "Single-step denoiser" if section == "denoiser" else "Denoising pure noise"
    loss_curve(result.losses, len(result.losses) // p["epochs"], paths.loss_figure,
               f"{title} ({what}, D={p['hidden']}, batch {p['batch_size']}, lr {p['lr']})")
    discard_state(paths.checkpoint)  # the outputs are saved: nothing left to resume


if __name__ == "__main__":
    main()
