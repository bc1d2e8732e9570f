"""sampling.grids: what a sample grid holds, and that the GIF's frames leave the digits drawn unchanged."""

from types import SimpleNamespace

import torch

from difflab.config.runtime import Runtime
from difflab.config.schema import DDPMTime, FlowClass
from difflab.data.mnist import CLASSES
from difflab.models.unet import UNet
from difflab.sampling.grids import Grid, draw, grid_for

CLASS_SECTION = FlowClass.model_construct(samples_per_class=2, guidance_scale=3.0, gif_every=2)
TIME_SECTION = DDPMTime.model_construct(num_samples=3, gif_every=2)
META = {"hidden": 4, "conditioning": "time", "objective": "ddpm", "num_timesteps": 5, "beta_start": 1e-4,
        "beta_end": 0.02, "p_uncond": 0.0, "dataset": "mnist", "epoch": 1}


def test_a_class_grid_holds_rows_of_every_class_and_a_time_grid_its_samples():
    g = grid_for(SimpleNamespace(conditioning="class"), {"epoch": 4, "dataset": "fashion_mnist", "objective": "flow"},
                 CLASS_SECTION, 7)
    assert g.digits == list(range(10)) * 2 and g.n == 20 and g.col_labels == list(CLASSES["fashion_mnist"])
    assert g.title == "Class-conditioned flow matching after epoch 4: 2 of each class, CFG scale 3.0, 7 steps"
    g = grid_for(SimpleNamespace(conditioning="time"), META, TIME_SECTION, 300)
    assert (g.digits, g.n, g.col_labels) == (None, 3, [])
    assert g.title == "Time-conditioned DDPM after epoch 1: 3 samples, 300 steps"


def test_the_gif_frames_leave_the_digits_unchanged():
    """The noise, then a frame every gif_every steps and at the last (steps 2, 4 and 5 of 5); the digits are those
    drawn without frames."""
    torch.manual_seed(0)
    unet = UNet(4, "time")
    g, rt = Grid(None, 3, "", []), Runtime(torch.device("cpu"), "fp32")
    frames = []
    with torch.no_grad():
        with_frames = draw(unet, META, g, 1.0, None, 7, rt, 3, None, frames, gif_every=2)
        without = draw(unet, META, g, 1.0, None, 7, rt, 3, None)
    assert len(frames) == 4
    assert torch.equal(with_frames, without)
