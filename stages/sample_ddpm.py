"""Stage sample_ddpm_time / sample_ddpm_class: sample digits from pure noise with the trained DDPM, using the
model after <section>.snapshot_epoch and after the last epoch (SPEC B2/B3), and a GIF of the reverse process.

The class-conditioned model draws samples_per_class of every digit 0-9 with classifier-free guidance
(ddpm_class.guidance_scale). Both checkpoints start from the same noise, so the grids compare like with like.
"""

import torch

from difflab import layout
from difflab.checkpoints import load_model
from difflab.generate import generate
from difflab.figures import grid, image_rows, save_gif, tile
from difflab.params import SAMPLING, stage_params
from difflab.runtime import for_stage


@torch.no_grad()
def main() -> None:
    params, args = stage_params(
        __doc__, lambda a: (*SAMPLING, f"ddpm_{a.conditioning}"),
        extra_args=lambda p: p.add_argument("conditioning", choices=("time", "class"), help="which model to sample"))
    section = f"ddpm_{args.conditioning}"
    p = params[section]
    rt = for_stage(params)
    device = rt.device
    paths = layout.model_paths(section)

    for which, path in (("snapshot", paths.snapshot), ("final", paths.final)):
        unet, meta = load_model(path, device)
        if args.conditioning == "class":
            digits = list(range(10)) * p["samples_per_class"]  # row r holds 0..9
            n, ncols, col_labels = len(digits), 10, [str(d) for d in range(10)]
            title = (f"Class-conditioned DDPM after epoch {meta['epoch']}: {p['samples_per_class']} of each digit, "
                     f"CFG scale {p['guidance_scale']}")
        else:
            digits, n, ncols, col_labels = None, p["num_samples"], 10, []
            title = f"Time-conditioned DDPM after epoch {meta['epoch']}: {n} samples, {meta['num_timesteps']} steps"
        g = torch.Generator(device=device).manual_seed(params["seed"])
        x_T = torch.randn((n, 1, 28, 28), generator=g, device=device)
        frames = [tile(x_T.clamp(0, 1), ncols, scale=2)]

        def keep_frame(i: int, t_prev: int, x: torch.Tensor) -> None:
            if (i + 1) % p["gif_every"] == 0 or t_prev < 0:
                frames.append(tile(x.clamp(0, 1), ncols, scale=2))

        x0 = generate(unet, meta, x_T, g, digits, p.get("guidance_scale", 1.0),
                      on_step=keep_frame if which == "final" else None,
                      progress=f"sampling ({which}, epoch {meta['epoch']})", runtime=rt,
                      batch_size=params["sample_batch_size"])
        image_rows(grid(x0, ncols), paths.reports / f"samples_{which}.png", title=title, col_labels=col_labels,
                   cell=0.9)
        if which == "final":
            save_gif(frames, paths.reports / "reverse.gif")


if __name__ == "__main__":
    main()
