"""Part B's MNIST UNets behind the predict(x_t, t, cond) -> (estimate, None) of a diffusion model, so that one
predictor (core/predictor.py) guides them and part A's algorithms run on the class-conditioned DDPM and the class
flow model alike (parta/model.py names the whole interface): one MnistModel, its objective from the checkpoint."""

import torch

from difflab.config.parta_models import BY_OBJECTIVE
from difflab.config.runtime import Runtime
from difflab.core.objectives import objective_of
from difflab.data.mnist import classes_of
from difflab.models.unet import UNet


class MnistImages:
    """What both MNIST models show part A: 1 x 28 x 28 images in [0, 1] (the range they were trained on), no
    upsampler, prompts that are labels "0".."9" (or the class names of the dataset learned), "" the null class."""

    channels = 1
    image_size = display_size = 28
    null_prompt = ""
    predicts_variance = False

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0, 1)

    def upsample(self, x: torch.Tensor, cond: torch.Tensor, null: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
        return x


class MnistModel(MnistImages):
    """A time- or class-conditioned MNIST UNet of part B as a diffusion model: its estimate at time t is the noise
    (a DDPM: the UNet is fed t / T) or the velocity (a flow: t in [0, 1], 0 = noise), whichever its objective
    (core/objectives.py, from the checkpoint's metadata) says; so the guided and conditional predictors batch
    classifier-free guidance alike for both, and part A's algorithms run on either through its process. Prompts are
    labels "0".."9" (or the class names of the dataset it learned, `classes`), "" is the null class (the zero
    vector); images are 1 x 28 x 28 in [0, 1] (the range it was trained on).

    `runtime` sets precision and memory format (default: fp32 on `device`); estimates are returned in fp32."""

    def __init__(self, unet: UNet, meta: dict, device: torch.device | str = "cpu", runtime: Runtime | None = None):
        if unet.conditioning == "none":
            raise ValueError("not a diffusion model: a UNet with conditioning 'none' is a one-step denoiser")
        self.objective = objective_of(meta)
        self.name = BY_OBJECTIVE[self.objective.name].section.replace("_", "-")  # how part A's figures name it: mnist, mnist-flow
        self.runtime = runtime or Runtime(torch.device(device), "fp32")
        self.device = self.runtime.device
        self.unet = self.runtime.prepare(unet.eval())
        self.classes = classes_of(meta)  # what its labels name (figures say it)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t, cond: torch.Tensor | None) -> tuple[torch.Tensor, None]:
        tt = torch.full((len(x_t),), self.objective.model_time(t), device=x_t.device)
        with self.runtime.autocast():
            estimate = self.unet(x_t, tt, cond)
        return estimate.float(), None
