"""Stage train_ddpm_time / train_ddpm_class: train the time-conditioned (SPEC B2) or the class-conditioned
(SPEC B3) UNet to predict the noise eps in x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps.

Adam with ExponentialLR (gamma = lr_final_factor ** (1 / epochs), stepped per epoch). Writes the final weights and
those after <section>.snapshot_epoch, the per-step loss (DVCLive) and its figure; resumes from checkpoints/<section>.
"""

from difflab import layout
from difflab.checkpoints import discard_state, save_model
from difflab.data import load_mnist
from difflab.ddpm import ddpm_loss, linear_alphas_cumprod
from difflab.figures import loss_curve
from difflab.params import RUNTIME, seed_everything, stage_params
from difflab.runtime import for_stage
from difflab.train import config_from_params, fit
from difflab.unet import UNet


def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*RUNTIME, "data", "ddpm", f"ddpm_{a.conditioning}"),
        extra_args=lambda p: p.add_argument("conditioning", choices=("time", "class"), help="which model to train"))
    for_stage(params)  # precision etc. checked against this device before any work
    conditioning = args.conditioning
    section = f"ddpm_{conditioning}"
    p, sched = params[section], params["ddpm"]
    alphas_cumprod = linear_alphas_cumprod(sched["num_timesteps"], sched["beta_start"], sched["beta_end"])
    images, labels = load_mnist(params["data"]["dir"], "train", p["train_limit"])
    seed_everything(params["seed"])
    model = UNet(p["hidden"], conditioning)
    cfg = config_from_params(params, p)
    p_uncond = p.get("p_uncond", 0.0)
    paths = layout.model_paths(section)
    result = fit(model, ddpm_loss(alphas_cumprod, conditioning, p_uncond), images, labels, cfg, paths.checkpoint,
                 paths.log_dir, loss_settings=f"{sched}|p_uncond={p_uncond}")
    if not result.main:  # under `accelerate launch` only the main process writes the outputs
        return
    meta = {"hidden": p["hidden"], "conditioning": conditioning, **sched, "p_uncond": p_uncond}
    save_model(paths.snapshot, result.snapshot_state_dict, {**meta, "epoch": p["snapshot_epoch"]})
    save_model(paths.final, result.state_dict, {**meta, "epoch": p["epochs"]})
    what = "Time-conditioned" if conditioning == "time" else f"Class-conditioned (p_uncond={p_uncond})"
    loss_curve(result.losses, len(result.losses) // p["epochs"], paths.loss_figure,
               f"{what} DDPM, T={sched['num_timesteps']}, D={p['hidden']}, batch {p['batch_size']}, lr {p['lr']}")
    discard_state(paths.checkpoint)  # the outputs are saved: nothing left to resume


if __name__ == "__main__":
    main()
