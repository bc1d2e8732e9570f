"""Sampling digits from a trained MNIST model of part B: a DDPM (SPEC B2/B3) by its posterior step over all T
timesteps or num_steps of them, a flow-matching model by num_steps Euler steps, each through the Process its
objective gives (core/objectives.py), as part A samples. Class-conditioned models are guided through the part A
engine's predictor (classifier-free guidance, both estimates in one batched call), whichever the objective. Used by the sampling figures, the evaluation stages and the DDPM-against-flow comparison."""

from collections.abc import Callable

import torch

from difflab.config.runtime import Runtime
from difflab.core.noise import Generators
from difflab.core.objectives import objective_of
from difflab.core.predictor import guided
from difflab.errors import InputError
from difflab.models.unet import UNet
from difflab.sampling.adapters import MnistModel
from difflab.sampling.labels import one_hot_prompts


def steps_of(meta: dict, num_steps: int | None) -> int:
    """How many model calls (per image and CFG half) generate() makes for this model and num_steps: its sampler's
    grid (a bad num_steps stops there)."""
    return len(objective_of(meta).sampler(num_steps)[1])


@torch.no_grad()
def generate(unet: UNet, meta: dict, x_T: torch.Tensor, generator: Generators,
             digits: list[int] | None = None, guidance_scale: float = 1.0,
             on_step: Callable[[int, float, torch.Tensor], None] | None = None,
             progress: str | None = None, runtime: Runtime | None = None,
             batch_size: int | None = None, num_steps: int | None = None,
             eta: float | None = None, variance: str = "fixed_small") -> torch.Tensor:
    """Turn the noise x_T into digits. The class-conditioned models need `digits` (one per image).

    DDPM: num_steps of its T timesteps (core.timesteps; all by default), by the posterior step with fresh noise of
    the named `variance` on each step (ddpm.step_std: on a step of one timestep the spec's sqrt(beta_t) either way),
    or by DDIM's step where eta is given (0 = deterministic given x_T);
    flow matching: num_steps Euler steps (required), deterministic given x_T.
    Images go through the model batch_size at a time (all at once by default; with CFG each call holds the
    conditional and the unconditional estimate of a batch, 2 x batch_size images); on_step(i, t, x) sees each
    batch in turn after each step i. The step noise comes from `generator`: one per image (noise.image_generators),
    so that an image's digit does not depend on its batch, or one for all where the images go in one batch.
    `runtime` sets device precision and memory format (default: fp32 on x_T's device).
    """
    runtime = runtime or Runtime(x_T.device, "fp32")
    model = MnistModel(unet, meta, runtime=runtime)
    process, grid = model.objective.sampler(num_steps, eta, variance)  # a bad num_steps, eta or variance stops here
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size={batch_size}; allowed: an integer >= 1")
    batch_size = batch_size or len(x_T)
    one = isinstance(generator, torch.Generator)
    if one and batch_size < len(x_T):
        raise InputError(f"batch_size={batch_size} for {len(x_T)} images with one generator: each batch's noise "
                         "would depend on the batching; allowed: one generator per image (noise.image_generators)")
    if not one and len(generator) != len(x_T):
        raise ValueError(f"{len(generator)} generators for {len(x_T)} images; allowed: one generator per image")
    if unet.conditioning == "class":
        if digits is None or len(digits) != len(x_T):
            raise ValueError(f"a class-conditioned model needs one digit per image; got {digits!r} for {len(x_T)}")
        null = one_hot_prompts([""]).to(runtime.device)

        def predictor(lo: int, hi: int):
            return guided(model, one_hot_prompts([str(d) for d in digits[lo:hi]]).to(runtime.device), null,
                          guidance_scale)
    else:
        def predictor(lo: int, hi: int):
            return lambda x, t: model.predict(x, t, None)

    out = []
    for lo in range(0, len(x_T), batch_size):
        hi = min(lo + batch_size, len(x_T))
        label = progress if progress is None or hi - lo == len(x_T) else f"{progress} [{lo}:{hi}]"
        out.append(process.sample(predictor(lo, hi), x_T[lo:hi], grid, 0, generator if one else generator[lo:hi],
                                  on_step, label))
    return torch.cat(out)
