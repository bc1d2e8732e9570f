"""Part A's experiments, declared once: each one's name (its function, figure and params section) and how the report
heads and captions it. Everything else about them is built from this list: what the part A stages run, in this
order, on each model (stages/parta.py; dvc.yaml declares each stage's whole parta.<model> section and its folder of
figures, so it names no experiment), the report's part A sections on both models (reporting/report.py) and the
report stage's deps (the two folders). The function that runs each is parta/experiments.py's of the same name.
docs/architecture.md walks through adding one.

Like layout.py, this is a declaration that the layers above share, so it lives at the bottom: captions are plain
sentences on a parta.<model> section (schema.Experiments), and nothing here runs a model.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str  # its function in parta/experiments.py, figure reports/parta/<name>.png, section parta.<model>.<name>
    title: str  # the report's heading
    caption: Callable  # the DDPM report's caption: f(parta.<model> section) -> str
    flow_title: str | None = None  # the heading on the flow model, where it differs

    def figure(self, folder: str = "parta") -> str:
        """Its figure relative to reports/: parta/<name>.png (the flow model's: parta_flow/<name>.png)."""
        return f"{folder}/{self.name}.png"


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


# In the spec's order (SPEC A0 - A1.9, then what goes beyond it).
PART_A = (
    Experiment("sample", "A0. Sampling", lambda a: f"Prompts {a.sample.prompts} at {a.sample.num_inference_steps} "
               f"inference steps, CFG scale {a.common.guidance_scale}."),
    Experiment("forward", "A1.1 Forward process",
               lambda a: f"The test image {a.common.test_image} noised to t = {a.forward.timesteps}.",
               flow_title="A1.1 Forward process (interpolation)"),
    Experiment("blur", "A1.2 Classical denoising",
               lambda a: f"Gaussian blur, kernel {a.blur.kernel_size}, sigma {a.blur.sigma}."),
    Experiment("one_step", "A1.3 One-step denoising", lambda a: f"Prompt {a.one_step.prompt!r}.",
               flow_title="A1.3 One-step estimate"),
    Experiment("velocity", "A1.3.1 Visualizing the update (the course's 1.4, 2026)",
               lambda a: f"At each t of the forward process, prompt {a.velocity.prompt!r}: the update the model "
               "predicts from x_t to the clean image (x0_hat - x_t; a flow's (1 - t) v_hat) against the true one, "
               "both on one symmetric scale at every t, and their per-pixel RMS error.",
               flow_title="A1.3.1 Visualizing velocity (the course's 1.4, 2026)"),
    Experiment("iterative", "A1.4 Iterative denoising",
               lambda a: f"Strided timesteps (stride {a.common.stride}) from i_start = {a.iterative.i_start}, every "
               f"{a.iterative.show_every}th step; bottom row: original, iterative, one-step, blur. Every part A "
               f"experiment steps by {stepping(a.common)}.",
               flow_title="A1.4 Iterative denoising (Euler)"),
    Experiment("sample_noise", "A1.5 Sampling from noise",
               lambda a: f"Prompts {a.sample_noise.prompts}, no guidance."),
    Experiment("cfg", "A1.6 Classifier-free guidance",
               lambda a: f"Prompts {a.cfg.prompts}, scale {a.common.guidance_scale}."),
    Experiment("sdedit", "A1.7 SDEdit", lambda a: f"i_start {a.sdedit.i_start}, prompt {a.sdedit.prompt!r}."),
    Experiment("sdedit_drawings", "A1.7.1 Web and hand-drawn images",
               lambda a: f"Inputs {a.sdedit_drawings.images}."),
    Experiment("inpaint", "A1.7.2 Inpainting (RePaint)", lambda a: f"Masks {a.inpaint.masks}."),
    Experiment("translate", "A1.7.3 Text-conditional image-to-image",
               lambda a: f"SDEdit towards {a.translate.prompt!r}."),
    Experiment("anagram", "A1.8 Visual anagrams", _anagrams),
    Experiment("hybrid", "A1.9 Hybrid images", lambda a: f"Pairs {a.hybrid.pairs} (far / near), low-pass kernel "
               f"{a.hybrid.kernel_size}, sigma {a.hybrid.sigma}."),
    Experiment("factorized", "Beyond A1.9: factorized diffusion", lambda a: factorized_sentence(a.factorized)),
)
