"""Part B's MNIST UNets behind the predict(x_t, t, cond) -> (estimate, None) of a diffusion model, so that one
predictor (core/predictor.py) guides them and part A's algorithms run on the class-conditioned DDPM and the class
flow model alike (parta/model.py names the whole interface)."""

import torch

from difflab.config.runtime import Runtime
from difflab.core.ddpm import linear_alphas_cumprod
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


class MnistDiffusion(MnistImages):
    """The class-conditioned MNIST DDPM (part B) as a diffusion model: prompts are labels "0".."9" (or the class
    names of the dataset it learned, `classes`), "" is the null class (the zero vector), images are 1 x 28 x 28 in
    [0, 1] (the range it was trained on), T = 300 linear betas.
    (The time-conditioned DDPM fits too, with cond None, for sampling; part A needs the class-conditioned one.)

    `runtime` sets precision and memory format (default: fp32 on `device`); estimates are returned in fp32."""

    name = "mnist"
    objective = "ddpm"

    def __init__(self, unet: UNet, meta: dict, device: torch.device | str = "cpu", runtime: Runtime | None = None):
        if unet.conditioning == "none" or meta.get("objective", "ddpm") != "ddpm":
            raise ValueError(f"not a DDPM: conditioning={unet.conditioning!r}, objective={meta.get('objective')!r}")
        self.runtime = runtime or Runtime(torch.device(device), "fp32")
        self.device = self.runtime.device
        self.unet = self.runtime.prepare(unet.eval())
        self.num_train_timesteps = meta["num_timesteps"]
        self.alphas_cumprod = linear_alphas_cumprod(meta["num_timesteps"], meta["beta_start"], meta["beta_end"])
        self.classes = classes_of(meta)  # what its labels name (figures say it)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> tuple[torch.Tensor, None]:
        tt = torch.full((len(x_t),), t / self.num_train_timesteps, device=x_t.device)
        with self.runtime.autocast():
            eps = self.unet(x_t, tt, cond)
        return eps.float(), None


class MnistFlow(MnistImages):
    """A flow-matching MNIST UNet behind the same predict(x_t, t, cond) -> (estimate, None), the estimate being the
    velocity at time t in [0, 1] (0 = noise): so the guided and conditional predictors batch its classifier-free
    guidance exactly as the DDPM's, and part A's algorithms run on it through core/processes.FlowProcess."""

    name = "mnist-flow"
    objective = "flow"

    def __init__(self, unet: UNet, meta: dict, runtime: Runtime | None = None):
        if unet.conditioning == "none" or meta.get("objective") != "flow":
            raise ValueError(f"not a flow-matching model: conditioning={unet.conditioning!r}, "
                             f"objective={meta.get('objective')!r}")
        self.runtime = runtime or Runtime(torch.device("cpu"), "fp32")
        self.device = self.runtime.device
        self.unet = self.runtime.prepare(unet.eval())
        self.classes = classes_of(meta)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: float, cond: torch.Tensor | None) -> tuple[torch.Tensor, None]:
        with self.runtime.autocast():
            velocity = self.unet(x_t, torch.full((len(x_t),), float(t), device=x_t.device), cond)
        return velocity.float(), None
