"""The sample figures of a trained generative UNet: a grid of digits drawn from pure noise after each epoch its
training saved weights after, and a GIF of the last model's path from noise to digits. Every grid starts from the
same seeded noise, so the grids compare like with like."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from difflab.config import layout
from difflab.config.runtime import Runtime
from difflab.config.schema import Generative, Params
from difflab.core.noise import image_generators, randn
from difflab.core.objectives import objective_of
from difflab.data.mnist import classes_of
from difflab.models.checkpoints import load_model
from difflab.models.unet import UNet
from difflab.reporting.figures import grid, image_rows, save_gif, tile
from difflab.reporting.wording import wording
from difflab.sampling.generate import generate, steps_of

NCOLS = 10  # digits per grid row


@dataclass
class Grid:
    """What one sample grid shows: the digits asked for (None for a time-conditioned model), how many, and its
    title and column labels."""
    digits: list[int] | None
    n: int
    title: str
    col_labels: list[str]


def grid_for(unet: UNet, meta: dict, p: Generative, steps: int) -> Grid:
    """A class-conditioned model draws samples_per_class rows of the classes in order (row r holds 0..9) with
    classifier-free guidance; a time-conditioned one draws num_samples digits."""
    what = wording(objective_of(meta)).title
    if unet.conditioning == "class":
        digits = list(range(10)) * p.samples_per_class
        title = (f"Class-conditioned {what} after epoch {meta['epoch']}: {p.samples_per_class} of each class, "
                 f"CFG scale {p.guidance_scale}, {steps} steps")
        return Grid(digits, len(digits), title, list(classes_of(meta)))
    title = f"Time-conditioned {what} after epoch {meta['epoch']}: {p.num_samples} samples, {steps} steps"
    return Grid(None, p.num_samples, title, [])


def draw_digits(unet: UNet, meta: dict, digits: list[int] | None, n: int, seed: int, runtime: Runtime,
                batch_size: int | None, scale: float = 1.0, num_steps: int | None = None, eta: float | None = None,
                variance: str = "fixed_small", on_noise: Callable[[torch.Tensor], None] | None = None,
                on_step: Callable[[int, float, torch.Tensor], None] | None = None,
                progress: str | None = None) -> torch.Tensor:
    """n digits drawn from noise seeded with `seed`, as every sample figure and the explorer draw them: image i's
    noise and step noise come from image_generators(seed, n)[i], so that digit i is the same whatever batch_size
    the images go through generate() at (None: all at once). A class-conditioned model is asked for `digits` (one
    per image) with CFG `scale`; a time-conditioned one draws its own. on_noise(x_T) sees the noise first."""
    gens = image_generators(seed, n, runtime.device)
    x_T = randn((n, 1, 28, 28), gens, runtime.device)
    if on_noise is not None:
        on_noise(x_T)
    guided = unet.conditioning == "class"
    return generate(unet, meta, x_T, gens, digits if guided else None, scale if guided else 1.0, on_step=on_step,
                    progress=progress, runtime=runtime, batch_size=batch_size, num_steps=num_steps, eta=eta,
                    variance=variance)


def draw(unet: UNet, meta: dict, g: Grid, scale: float, num_steps: int | None, seed: int, runtime: Runtime,
         batch_size: int, progress: str, frames: list[np.ndarray] | None = None, gif_every: int = 1) -> torch.Tensor:
    """The grid's digits (draw_digits), guided at `scale` (a class-conditioned model). With a `frames` list, also
    the GIF's frames: the noise, then the digits every `gif_every` steps and at the last."""
    steps = steps_of(meta, num_steps)

    def keep_frame(i: int, _t, x: torch.Tensor) -> None:
        if (i + 1) % gif_every == 0 or i + 1 == steps:
            frames.append(tile(x.clamp(0, 1), NCOLS, scale=2))

    def first_frame(x_T: torch.Tensor) -> None:
        frames.append(tile(x_T.clamp(0, 1), NCOLS, scale=2))

    filmed = frames is not None
    return draw_digits(unet, meta, g.digits, g.n, seed, runtime, batch_size, scale, num_steps,
                       on_noise=first_frame if filmed else None, on_step=keep_frame if filmed else None,
                       progress=progress)


@torch.no_grad()
def sample_figures(params: Params, section: str, runtime: Runtime) -> None:
    """samples_<label>.png for each of the section's saved weights (beside the model's reports, or in samples/ for
    a section with snapshot_epochs) and the last model's GIF: reverse.gif for a DDPM, trajectory.gif for a flow.
    The last epoch is drawn first, as it has the GIF; a snapshot epoch that is also the last is drawn once, since
    the same weights from the same noise give the same digits."""
    p = getattr(params, section)
    paths = layout.model_paths(section)
    folder = paths.reports / ("samples" if "snapshot_epochs" in type(p).model_fields else "")
    drawn: dict[int, tuple[Grid, torch.Tensor]] = {}
    frames: list[np.ndarray] = []
    for label, epoch, path in reversed(layout.saved_weights(section, p)):
        if epoch not in drawn:
            unet, meta = load_model(path, runtime.device)
            num_steps = objective_of(meta).num_steps_of(params, section)
            g = grid_for(unet, meta, p, steps_of(meta, num_steps))
            scale = p.guidance_scale if unet.conditioning == "class" else 1.0
            drawn[epoch] = g, draw(unet, meta, g, scale, num_steps, params.seed, runtime, params.sample_batch_size,
                                   f"sampling ({label}, epoch {meta['epoch']})", frames if label == "final" else None,
                                   p.gif_every)
        g, x0 = drawn[epoch]
        image_rows(grid(x0, NCOLS), folder / f"samples_{label}.png", title=g.title, col_labels=g.col_labels, cell=0.9)
        if label == "final":
            save_gif(frames, paths.reports / layout.GIFS[objective_of(meta).name])
