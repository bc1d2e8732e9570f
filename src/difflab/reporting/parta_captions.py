"""How the report heads and captions each part A experiment (config/experiments.py's PART_A, by name): its title, its
title on the flow model where it differs, and its caption on the DDPM built from the parta.<model> section that
produced it. Only the report reads this, so a reworded caption reruns the report alone."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Caption:
    title: str  # the report's heading
    caption: Callable  # the DDPM report's caption: f(parta.<model> section) -> str
    flow_title: str | None = None  # the heading on the flow model, where it differs


def stepping(common) -> str:
    """How part A steps down its strided timesteps, in words, from parta.<model>.common."""
    if common.sampler == "ddim":
        return f"DDIM's step (eta {common.ddim_eta})"
    noise = {"fixed_small": "the posterior's noise sqrt(beta_tilde)",
             "fixed_large": "noise sqrt(beta) of the whole stride (grainy: beta far exceeds the posterior's)",
             "learned_range": "the model's learned variance"}[common.variance]
    return f"the DDPM posterior step with {noise}"


def factorized_sentence(f) -> str:
    """What parta.<model>.factorized makes, in words."""
    bands = [e.prompts for e in f.items if e.kind == "bands"]
    colour = [e.prompts for e in f.items if e.kind == "color"]
    parts = []
    if bands:
        (k1, k2), (s1, s2) = f.kernel_sizes, f.sigmas
        parts.append(f"Three frequency bands (low / mid / high) {bands}: low = Gaussian blur (kernel {k1}, sigma "
                     f"{s1}), mid = blur (kernel {k2}, sigma {s2}) minus it, high = the rest; the rows show the image "
                     "up close, blurred as from a middle distance, and as from afar.")
    if colour:
        parts.append(f"Grayscale / colour {colour}: the grayscale image follows the first prompt, its colour the "
                     "second.")
    return " ".join(parts)


def _anagrams(a) -> str:
    return ("Prompt k through view k: " + "; ".join(" / ".join(f"{v} {p!r}" for v, p in zip(e.views, e.prompts))
                                                   for e in a.anagram.anagrams)
            + ". The course's anagrams are identity / flip (upside down).")


CAPTIONS = {
    "sample": Caption("A0. Sampling", lambda a: f"Prompts {a.sample.prompts} at {a.sample.num_inference_steps} "
                      f"inference steps, CFG scale {a.common.guidance_scale}."),
    "forward": Caption("A1.1 Forward process",
                       lambda a: f"The test image {a.common.test_image} noised to t = {a.forward.timesteps}.",
                       flow_title="A1.1 Forward process (interpolation)"),
    "blur": Caption("A1.2 Classical denoising",
                    lambda a: f"Gaussian blur, kernel {a.blur.kernel_size}, sigma {a.blur.sigma}."),
    "one_step": Caption("A1.3 One-step denoising", lambda a: f"Prompt {a.one_step.prompt!r}.",
                        flow_title="A1.3 One-step estimate"),
    "velocity": Caption("A1.3.1 Visualizing the update (the course's 1.4, 2026)",
                        lambda a: f"At each t of the forward process, prompt {a.velocity.prompt!r}: the update the "
                        "model predicts from x_t to the clean image (x0_hat - x_t; a flow's (1 - t) v_hat) against "
                        "the true one, both on one symmetric scale at every t, and their per-pixel RMS error.",
                        flow_title="A1.3.1 Visualizing velocity (the course's 1.4, 2026)"),
    "iterative": Caption("A1.4 Iterative denoising",
                         lambda a: f"Strided timesteps (stride {a.common.stride}) from i_start = "
                         f"{a.iterative.i_start}, every {a.iterative.show_every}th step; bottom row: original, "
                         f"iterative, one-step, blur. Every part A experiment steps by {stepping(a.common)}.",
                         flow_title="A1.4 Iterative denoising (Euler)"),
    "sample_noise": Caption("A1.5 Sampling from noise",
                            lambda a: f"Prompts {a.sample_noise.prompts}, no guidance."),
    "cfg": Caption("A1.6 Classifier-free guidance",
                   lambda a: f"Prompts {a.cfg.prompts}, scale {a.common.guidance_scale}."),
    "sdedit": Caption("A1.7 SDEdit", lambda a: f"i_start {a.sdedit.i_start}, prompt {a.sdedit.prompt!r}."),
    "sdedit_drawings": Caption("A1.7.1 Web and hand-drawn images",
                               lambda a: f"Inputs {a.sdedit_drawings.images}."),
    "inpaint": Caption("A1.7.2 Inpainting (RePaint)", lambda a: f"Masks {a.inpaint.masks}."),
    "translate": Caption("A1.7.3 Text-conditional image-to-image",
                         lambda a: f"SDEdit towards {a.translate.prompt!r}."),
    "anagram": Caption("A1.8 Visual anagrams", _anagrams),
    "hybrid": Caption("A1.9 Hybrid images", lambda a: f"Pairs {a.hybrid.pairs} (far / near), low-pass kernel "
                      f"{a.hybrid.kernel_size}, sigma {a.hybrid.sigma}."),
    "factorized": Caption("Beyond A1.9: factorized diffusion", lambda a: factorized_sentence(a.factorized)),
}
