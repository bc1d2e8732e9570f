"""Build the part A model that params.yaml names (parta.model), and compute prompt conditions for it."""

from collections.abc import Sequence

import torch

from difflab.config.parta_models import BY_OBJECTIVE, PART_A_MODELS
from difflab.config.runtime import Runtime
from difflab.config.schema import DeepFloydCommon, FlowCommon, MnistCommon
from difflab.data.mnist import CLASSES
from difflab.core.objectives import objective_of
from difflab.errors import InputError
from difflab.models.checkpoints import load_model
from difflab.parta.engine import Engine, process_of
from difflab.parta.model import DiffusionModel
from difflab.sampling.adapters import MnistModel
from difflab.sampling.labels import one_hot_prompts


def load_diffusion_model(name: str, common: MnistCommon | FlowCommon | DeepFloydCommon,
                         runtime: Runtime) -> DiffusionModel:
    """The MNIST models run in the runtime's precision; DeepFloyd IF keeps its own (common.dtype, fp16)."""
    device = runtime.device
    if PART_A_MODELS[name].objective:  # one of the project's MNIST models
        unet, meta = load_model(common.checkpoint, device)
        return part_a_model(unet, meta, runtime, name, common.checkpoint)
    from difflab.parta.deepfloyd import DeepFloydIF
    return DeepFloydIF.from_pretrained(
        common.stage_1, common.stage_2, device, dtype=common.dtype, variant=common.variant,
        cpu_offload=common.cpu_offload, stage_2_steps=common.stage_2_steps,
        stage_2_guidance_scale=common.stage_2_guidance_scale, stage_2_noise_level=common.stage_2_noise_level)


def part_a_model(unet, meta: dict, runtime: Runtime, section: str | None = None,
                 where: str = "the model") -> DiffusionModel:
    """A class-conditioned MNIST UNet behind part A's interface: the model parta.<section> asks for (mnist: the
    DDPM, mnist_flow: the flow model), or whichever the checkpoint holds where no section asks (the explorer's runs);
    InputError naming what the checkpoint holds otherwise."""
    found = objective_of(meta)
    if unet.conditioning != "class" or section not in (None, BY_OBJECTIVE[found.name].section):
        wanted = f"the class-conditioned model of parta.{section}" if section else "a class-conditioned model"
        raise InputError(f"{where}: part A here needs {wanted}; this one is {unet.conditioning}-conditioned, "
                         f"objective {found.name!r}")
    return MnistModel(unet, meta, runtime=runtime)


def encode_prompts(name: str, common: MnistCommon | DeepFloydCommon, prompts: list[str], device: torch.device,
                   classes: Sequence[str] = CLASSES["mnist"]) -> torch.Tensor:
    """Conditions of the prompts: T5 embeddings for IF; for the project's own model one-hot vectors of the classes
    of the dataset it learned (`classes`: labels or names)."""
    if PART_A_MODELS[name].objective:  # one of the project's MNIST models
        return one_hot_prompts(prompts, classes)
    from difflab.parta.deepfloyd import t5_embeddings
    return t5_embeddings(prompts, common.text_encoder, device, dtype=common.dtype, variant=common.variant)


def one_hot_conditions(model: DiffusionModel):
    """prompts -> the MNIST models' one-hot vectors of their classes, stacked on the model's device (what the
    embed_prompts stage caches for them)."""
    return lambda *prompts: one_hot_prompts(list(prompts), model.classes).to(model.device)


def load_engine(name: str, section, runtime: Runtime, conds=None, seed: int = 0) -> Engine:
    """The engine of parta.<name>: its model, its process and CFG scale as section.common sets them, the seed, and
    the conditions `conds` (prompts -> conditions; default: the MNIST models' one-hot vectors of their classes)."""
    model = load_diffusion_model(name, section.common, runtime)
    if conds is None:
        if name == "deepfloyd_if":
            raise ValueError("DeepFloyd IF's conditions come from the embed_prompts stage's cache; pass them")
        conds = one_hot_conditions(model)
    return Engine(model, process_of(model, section.common), conds, section.common.guidance_scale, seed)
