"""The Draw tab's work, free of the page: a digit drawn on a canvas (or an MNIST test digit of the run's data) made
a model input exactly as part A makes a user's image one (parta/images.load_image: centre crop, resize to 28 x 28,
grey, light strokes on a dark ground), then edited by part A's engine as its experiments edit: SDEdit from a chosen
start in the model's time (A1.7: forward noising, then iterative denoising down the grid: a DDPM's i_start into its
strided timesteps, a flow model's t_start anywhere in [0, 1)) or RePaint inpainting inside a box (A1.7.2:
parta/images.make_mask, parta/algorithms.inpaint) or inside a mask painted by hand, guided by a digit or
by none (""). Every k-th step is kept for a strip of the reverse process."""

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from difflab.data.mnist import read_idx
from difflab.errors import InputError
from difflab.explore.anagram import EngineSettings, against_model
from difflab.explore.runs import RunError, Runs
from difflab.explore.sample import within
from difflab.explore.steps import stop_if
from difflab.parta.engine import Engine
from difflab.parta.images import load_image, make_mask
from difflab.parta.model import DiffusionModel
from difflab.reporting.wording import wording

MODES = ("SDEdit", "inpaint")
PROMPTS = ("", *(str(d) for d in range(10)))  # "" = no digit asked for (guidance toward nothing)
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


MAX_EVERY = 1000  # the strip's every k-th step: no grid of the page has more steps (T = 300, 1000 Euler steps)
MASK_COVER = 0.5  # a pixel of the 28 x 28 mask is redrawn when paint covers at least half of it on the canvas


@dataclass(frozen=True)
class EditSettings:
    """One edit: SDEdit from `start` or inpainting inside `box` ([top, bottom, left, right] fractions of
    the side: make_mask's box), or inside `drawn` where given (a (1, 1, 28, 28) mask of 0 and 1 painted by hand:
    mask_from_strokes), guided toward `prompt`; every `every`-th step kept for the strip (0 = none). `start` speaks
    the model's time: a DDPM's i_start (an index into the strided timesteps: 0 = pure noise), a flow model's t_start
    (a time in [0, 1): 0 = pure noise, e.g. 0.4; off the grid of Euler steps, the last step is shortened)."""
    mode: str
    engine: EngineSettings
    prompt: str = ""
    start: float = 10
    box: tuple[float, float, float, float] = (0.0, 0.5, 0.0, 1.0)
    every: int = 0
    drawn: torch.Tensor | None = field(default=None, compare=False)


def from_drawing(canvas: np.ndarray | None) -> torch.Tensor:
    """A canvas (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, transparent = paper) as a (1, 1, 28, 28) input in
    [0, 1]: flattened onto white, then through load_image as any image file of part A (a dark drawing on a light
    ground is inverted to MNIST's light on dark). InputError for an empty canvas."""
    a = np.zeros(0) if canvas is None else np.asarray(canvas).astype(np.float64)
    assert a.size == 0 or a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4)), f"a Sketchpad's, not {a.shape}"
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3:] / 255.0
        a = a[..., :3] * alpha + 255.0 * (1 - alpha)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.size == 0 or np.ptp(a) == 0:
        raise InputError("the canvas is empty (nothing drawn, or one colour all over); allowed: a digit drawn on the "
                         "canvas (or an MNIST test digit by index)")
    img = Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drawing.png"  # PNG: lossless, so load_image reads the pixels drawn
        img.save(path)
        return load_image(str(path), 28, 1)


def square(a: np.ndarray) -> np.ndarray:
    """The centre square of an image, as load_image crops a drawing before it resizes it."""
    h, w = a.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return a[top:top + side, left:left + side]


def mask_from_strokes(layers: list[np.ndarray] | None, size: int = 28) -> torch.Tensor:
    """The strokes painted on the mask canvas (its layers: (H, W, 4) RGBA, transparent where nothing is painted; the
    paint's colour does not matter) as inpainting's (1, 1, size, size) mask, 1 where new content goes: every layer's
    paint together, centre-cropped as the drawing is, each pixel of the mask 1 where paint covers at least
    MASK_COVER of its cell on the canvas. InputError when nothing is painted."""
    painted = [np.asarray(a) for a in layers or [] if a is not None and np.asarray(a).size]
    assert all(a.ndim == 3 and a.shape[2] == 4 for a in painted), "a Sketchpad's layers: (H, W, 4) RGBA"
    cover = np.clip(sum(a[..., 3].astype(np.float64) / 255.0 for a in painted), 0, 1) if painted else None
    if cover is None or not cover.any():
        raise InputError("the mask is empty (nothing painted on the mask canvas); allowed: strokes over the region "
                         "to redraw (or inpaint inside the box)")
    return torch.from_numpy(cell_means(square(cover), size) >= MASK_COVER).float()[None, None]


def cell_means(a: np.ndarray, size: int) -> np.ndarray:
    """The mean of `a` (a square) over each of size x size cells: exact block means where the side is a multiple of
    size (the page's 280 canvas), PIL's box filter in floats otherwise."""
    side = a.shape[0]
    if side % size == 0:
        return a.reshape(size, side // size, size, side // size).mean((1, 3))
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((size, size), Image.BOX), np.float64)


def under_the_mask(x0: torch.Tensor, side: int) -> np.ndarray:
    """The model's input as the mask canvas' background: (side, side, 3) uint8, nearest-neighbour enlarged, so the
    strokes are painted over the digit they mask."""
    grey = (x0[0, 0].detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    img = Image.fromarray(grey).resize((side, side), Image.NEAREST).convert("RGB")
    return np.asarray(img)


def mnist_digit(runs: Runs, run: str, index: int) -> tuple[torch.Tensor, int]:
    """Test digit `index` of the run's data (params data.dir, read through DVC as the run's models are) as part A
    reads mnist-test:<index>, and its label."""
    data = runs.params(run).get("data", {}).get("dir")
    if not data:
        raise RunError(f"run {run!r}: params.yaml names no data.dir, so there is no test set to pick from; "
                       "allowed: a run whose params.yaml has data.dir (draw a digit instead)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in TEST_FILES:
            (Path(tmp) / name).write_bytes(runs.read(run, f"{data}/{name}"))
        x = load_image(f"mnist-test:{index}", 28, 1, Path(tmp))
        label = int(read_idx(Path(tmp) / TEST_FILES[1])[index])
    return x, label


def check(model: DiffusionModel, s: EditSettings) -> tuple[Engine, torch.Tensor | None, tuple[list, int]]:
    """Every setting checked before any work, each message naming the value and what is allowed (SDEdit's start
    against the model's grid as part A's stages check iterative's: anagram.against_model); returns the engine, for
    inpainting the mask (1 where new content goes), and where the run starts: the grid it walks and the index on
    it (SDEdit's start: Engine.walk, a flow's t_start anywhere in [0, 1); inpainting: the whole grid)."""
    assert s.mode in MODES and s.prompt in PROMPTS, (s.mode, s.prompt)  # the page's choices
    within("every", s.every, 0, MAX_EVERY, " (0: no strip)")
    start = {"iterative": {model.objective.start_knob: s.start}} if s.mode == "SDEdit" else {}
    engine = against_model(model, s.engine, **start)
    if s.mode == "SDEdit":
        return engine, None, engine.walk(s.start)
    if s.drawn is None:
        return engine, make_mask(list(s.box), model.image_size).to(model.device), (engine.grid, 0)
    side = model.image_size
    assert tuple(s.drawn.shape) == (1, 1, side, side) and s.drawn.any(), "mask_from_strokes' mask, not empty"
    return engine, s.drawn.to(model.device), (engine.grid, 0)


def edit(model: DiffusionModel, x0: torch.Tensor, s: EditSettings,
         on_step: Callable[[int, int], None] | None = None,
         cancel: threading.Event | None = None) -> tuple[torch.Tensor, list[torch.Tensor], list[str]]:
    """The edited image (1, 1, 28, 28), and the strip: the start (SDEdit: x0 noised to the grid's time at `start`) and
    every `every`-th step after it, with their labels. on_step(i, total) after step i; once `cancel` is set the loop
    stops after the step under way (steps.Cancelled). SDEdit is the engine's forward noising and denoising, called
    here as parta/experiments.iterative calls them so that the steps can be watched; inpainting is its inpaint."""
    engine, mask, (grid, i_start) = check(model, s)
    end, label = engine.process.end, wording(model.objective).label
    x0 = x0.to(model.device)
    g = engine.generator()
    predictor = engine.guided(s.prompt)
    frames: list[torch.Tensor] = []
    labels: list[str] = []
    total = len(grid) - i_start
    stop = stop_if(cancel, total)

    def keep(i: int, t_next, x: torch.Tensor) -> None:
        if s.every and (i + 1) % s.every == 0 and t_next != end:
            frames.append(x), labels.append(label(t_next))
        if on_step is not None:
            on_step(i, total)
        if stop is not None:
            stop(i, t_next, x)

    if mask is None:
        t0 = grid[i_start]
        x_t = engine.noised(x0, t0, g)
        frames.append(x_t), labels.append(f"{label(t0)} (start)")
        out = engine.denoise(x_t, i_start, predictor, g, on_step=keep, grid=grid)
    else:
        step = iter(range(total))
        out = engine.inpaint(x0, mask, predictor, g, observe=lambda t, x: keep(next(step), t, x))
    return out, frames if s.every else [], labels if s.every else []
