"""Stage train_<model>: train one of the four generative UNets on the dataset (data.dataset: MNIST by default), all
with the same loop (difflab.training.loop):

- ddpm_time / ddpm_class (SPEC B2 / B3): predict the noise eps in x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps;
- flow_time / flow_class (the course's flow-matching part B): predict the velocity x1 - x0 at
  x_t = (1 - t) x0 + t x1, x0 noise, x1 a digit.
The class-conditioned models drop the class to the null vector with probability p_uncond.

Adam with ExponentialLR (gamma = lr_final_factor ** (1 / epochs), stepped per epoch). Writes the final weights and
those after <model>.snapshot_epoch(s), the per-step loss (DVCLive) and its figure; resumes from checkpoints/<model>.
"""

from difflab.config import layout
from difflab.config.params import RUNTIME, seed_everything, stage_params
from difflab.config.runtime import for_stage
from difflab.core.ddpm import ddpm_loss, linear_alphas_cumprod
from difflab.core.flow import flow_loss
from difflab.data.mnist import load_mnist
from difflab.models.checkpoints import discard_state, save_model
from difflab.models.unet import UNet
from difflab.reporting.figures import loss_curve
from difflab.training.loop import config_from_params, fit

MODELS = ("ddpm_time", "ddpm_class", "flow_time", "flow_class")


def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*RUNTIME, "data", *(("ddpm",) if a.model.startswith("ddpm") else ()), a.model),
        extra_args=lambda p: p.add_argument("model", choices=MODELS, help="which model to train"))
    for_stage(params)  # precision etc. checked against this device before any work
    section = args.model
    objective, conditioning = section.split("_")
    p = params[section]
    p_uncond = p["p_uncond"] if conditioning == "class" else 0.0  # a time model has no class to drop
    if objective == "ddpm":
        sched = params["ddpm"]
        loss = ddpm_loss(linear_alphas_cumprod(sched["num_timesteps"], sched["beta_start"], sched["beta_end"]),
                         conditioning, p_uncond)
        settings, what = {**sched}, f"DDPM, T={sched['num_timesteps']}"
    else:
        loss, settings, what = flow_loss(conditioning, p_uncond), {}, "flow matching"
    images, labels = load_mnist(params["data"]["dir"], "train", p["train_limit"])
    seed_everything(params["seed"])
    model = UNet(p["hidden"], conditioning)
    paths = layout.model_paths(section)
    result = fit(model, loss, images, labels, config_from_params(params, section), paths.checkpoint, paths.log_dir,
                 loss_settings=f"{objective}|{settings}|p_uncond={p_uncond}")
    if not result.main:  # under `accelerate launch` only the main process writes the outputs
        return
    meta = {"hidden": p["hidden"], "conditioning": conditioning, "objective": objective, **settings,
            "p_uncond": p_uncond, "dataset": params["data"]["dataset"]}
    for label, epoch, path in layout.saved_weights(section, p):
        weights = result.state_dict if label == "final" else result.snapshots[epoch]
        save_model(path, weights, {**meta, "epoch": epoch})
    kind = "Time-conditioned" if conditioning == "time" else f"Class-conditioned (p_uncond={p_uncond})"
    loss_curve(result.losses, len(result.losses) // p["epochs"], paths.loss_figure,
               f"{kind} {what}, D={p['hidden']}, batch {p['batch_size']}, lr {p['lr']}")
    discard_state(paths.checkpoint)  # the outputs are saved: nothing left to resume


if __name__ == "__main__":
    main()
