"""Stage sample_<model>: digits drawn from pure noise by a trained generative UNet, after each of its saved epochs
(SPEC B2/B3: the DDPMs after <model>.snapshot_epoch and the last epoch, samples_snapshot.png and samples_final.png;
flow matching after each of <model>.snapshot_epochs and the last, samples/samples_epoch<N>.png and
samples/samples_final.png), and a GIF of the last model's path from noise to digits (reverse.gif for a DDPM, trajectory.gif
for the Euler steps of a flow).

The DDPMs step through all T timesteps, the flow models take <model>.num_steps Euler steps. The class-conditioned
models draw samples_per_class of every digit 0-9 with classifier-free guidance (<model>.guidance_scale). Every
grid starts from the same noise, so the grids compare like with like.
"""

import torch

from difflab.config import layout
from difflab.config.params import SAMPLING, declares, stage_params
from difflab.config.runtime import for_stage
from difflab.core.noise import image_generators, randn
from difflab.data.mnist import classes_of
from difflab.models.checkpoints import load_model
from difflab.reporting.figures import grid, image_rows, save_gif, tile
from difflab.sampling.generate import generate, steps_of

MODELS = ("ddpm_time", "ddpm_class", "flow_time", "flow_class")
NCOLS = 10  # digits per grid row


@torch.no_grad()
def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*SAMPLING, a.model),
        extra_args=lambda p: p.add_argument("model", choices=MODELS, help="which model to sample"))
    section = args.model
    p = params[section]
    rt = for_stage(params)
    device = rt.device
    paths = layout.model_paths(section)
    what = "DDPM" if section.startswith("ddpm") else "flow matching"
    folder = paths.reports / ("samples" if "snapshot_epochs" in p else "")
    drawn = {}  # epoch -> (digits, title, column labels): a snapshot epoch that is also the last is drawn once

    for label, epoch, path in reversed(layout.saved_weights(section, p)):  # the last epoch first: it has the GIF
        if epoch in drawn:  # the same weights from the same noise give the same digits
            x0, title, col_labels = drawn[epoch]
            image_rows(grid(x0, NCOLS), folder / f"samples_{label}.png", title=title, col_labels=col_labels, cell=0.9)
            continue
        unet, meta = load_model(path, device)
        num_steps = p["num_steps"] if declares(f"{section}.num_steps") else None  # flow: Euler steps; DDPM: all T
        steps = steps_of(meta, num_steps)
        if unet.conditioning == "class":
            digits = list(range(10)) * p["samples_per_class"]  # row r holds classes 0..9
            n, col_labels = len(digits), list(classes_of(meta))
            title = (f"Class-conditioned {what} after epoch {meta['epoch']}: {p['samples_per_class']} of each class, "
                     f"CFG scale {p['guidance_scale']}, {steps} steps")
        else:
            digits, n, col_labels = None, p["num_samples"], []
            title = f"Time-conditioned {what} after epoch {meta['epoch']}: {n} samples, {steps} steps"
        gens = image_generators(params["seed"], n, device)  # digit i is the same whatever the batch size
        x_T = randn((n, 1, 28, 28), gens, device)
        frames = [tile(x_T.clamp(0, 1), NCOLS, scale=2)]

        def keep_frame(i: int, _t, x: torch.Tensor) -> None:
            if (i + 1) % p["gif_every"] == 0 or i + 1 == steps:
                frames.append(tile(x.clamp(0, 1), NCOLS, scale=2))

        last = label == "final"
        scale = p["guidance_scale"] if unet.conditioning == "class" else 1.0
        x0 = generate(unet, meta, x_T, gens, digits, scale, on_step=keep_frame if last else None,
                      progress=f"sampling ({label}, epoch {meta['epoch']})", runtime=rt,
                      batch_size=params["sample_batch_size"], num_steps=num_steps)
        image_rows(grid(x0, NCOLS), folder / f"samples_{label}.png", title=title, col_labels=col_labels, cell=0.9)
        drawn[epoch] = x0, title, col_labels
        if last:
            save_gif(frames, paths.reports / ("reverse.gif" if what == "DDPM" else "trajectory.gif"))


if __name__ == "__main__":
    main()
