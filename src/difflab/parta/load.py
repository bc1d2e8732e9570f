"""Build the part A model that params.yaml names (parta.model), and compute prompt conditions for it."""

from collections.abc import Sequence

import torch

from difflab.config.runtime import Runtime
from difflab.config.schema import PARTA_MODELS as MODELS
from difflab.config.schema import DeepFloydCommon, MnistCommon
from difflab.data.mnist import CLASSES
from difflab.errors import InputError, ParamError
from difflab.models.checkpoints import load_model
from difflab.parta.model import DiffusionModel
from difflab.sampling.adapters import MnistDiffusion
from difflab.sampling.labels import one_hot_prompts


def check_model_name(name: str) -> None:
    if name not in MODELS:
        raise ParamError(f"parta.model={name!r}; allowed: {', '.join(MODELS)}")


def load_diffusion_model(name: str, common: MnistCommon | DeepFloydCommon, runtime: Runtime) -> DiffusionModel:
    """The MNIST model runs in the runtime's precision; DeepFloyd IF keeps its own (common.dtype, fp16)."""
    check_model_name(name)
    device = runtime.device
    if name == "mnist":
        unet, meta = load_model(common.checkpoint, device)
        if unet.conditioning != "class" or meta.get("objective", "ddpm") != "ddpm":
            raise InputError(f"{common.checkpoint}: part A needs the class-conditioned DDPM; this model is "
                             f"{unet.conditioning}-conditioned, objective {meta.get('objective', 'ddpm')!r}")
        return MnistDiffusion(unet, meta, runtime=runtime)
    from difflab.parta.deepfloyd import DeepFloydIF
    return DeepFloydIF.from_pretrained(
        common.stage_1, common.stage_2, device, dtype=common.dtype, variant=common.variant,
        cpu_offload=common.cpu_offload, stage_2_steps=common.stage_2_steps,
        stage_2_guidance_scale=common.stage_2_guidance_scale, stage_2_noise_level=common.stage_2_noise_level)


def encode_prompts(name: str, common: MnistCommon | DeepFloydCommon, prompts: list[str], device: torch.device,
                   classes: Sequence[str] = CLASSES["mnist"]) -> torch.Tensor:
    """Conditions of the prompts: T5 embeddings for IF; for the project's own model one-hot vectors of the classes
    of the dataset it learned (`classes`: labels or names)."""
    check_model_name(name)
    if name == "mnist":
        return one_hot_prompts(prompts, classes)
    from difflab.parta.deepfloyd import t5_embeddings
    return t5_embeddings(prompts, common.text_encoder, device, dtype=common.dtype, variant=common.variant)
