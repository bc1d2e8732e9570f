"""The part A experiments (SPEC A0 - A1.9): each runs the algorithms of algorithms.py on a DiffusionModel and lays
out its figure. `run(name, ctx)` is what the stage calls; `EXPERIMENTS` holds the function of each experiment that
config/experiments.py declares (its sections, figure, title and caption), in its order.

Each experiment reads its own params section (ctx.cfg.<name>) and the model's common one (ctx.common), as the
typed models of config/schema.py.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from difflab.config.experiments import PART_A
from difflab.config.params import check_schedule, knob_at
from difflab.config.schema import Common, Experiments, Factorized, FlowCommon
from difflab.core.ddpm import FIXED_VARIANCES
from difflab.core.predictor import Predictor
from difflab.core.views import views_for
from difflab.errors import ParamError
from difflab.parta import algorithms as alg
from difflab.parta.engine import Engine, process_of
from difflab.parta.images import load_image, make_mask
from difflab.parta.model import DiffusionModel
from difflab.reporting.figures import image_rows, update_rows
from difflab.reporting.wording import Wording, wording


def check_against_model(cfg: Experiments, model: DiffusionModel) -> None:
    """The knobs of parta.<model> that only the model can judge, before any work, each a ParamError (ViewError for a
    view) naming the key, its value and what is allowed: the knobs that index a DDPM's schedule against its own T (a
    part A stage does not read ddpm.num_timesteps, so params.check could not), the blurs' kernels against the image
    size, the factorized items' kinds against its channels, a learned variance against what it predicts, and the
    anagrams' views against its value range. A knob the section does not hold is not checked. Below this entry the
    algorithms assert what it guarantees."""
    name = model.name.replace("-", "_")  # its section: parta.mnist, parta.mnist_flow, parta.deepfloyd_if
    T = model.objective.max_steps
    if T is not None:
        check_schedule(name, cfg, T)
    side = model.image_size
    kernels = [("blur.kernel_size", knob_at(cfg, "blur", "kernel_size")),
               ("hybrid.kernel_size", knob_at(cfg, "hybrid", "kernel_size")),
               *(("factorized.kernel_sizes", k) for k in knob_at(cfg, "factorized", "kernel_sizes") or [])]
    for key, k in kernels:
        if k is not None and not alg.kernel_fits(k, side):
            raise ParamError(f"parta.{name}.{key}={k} is not allowed; allowed: an odd number below {2 * side} for "
                             f"the model's {side}x{side} images")
    colour = [item.model_dump() for item in knob_at(cfg, "factorized", "items") or [] if item.kind == "color"]
    if colour and model.channels < 3:
        raise ParamError(f"parta.{name}.factorized.items {colour} need colour images; the {model.name} model's have "
                         f"{model.channels} channel(s), no colour; allowed there: kind 'bands'")
    if knob_at(cfg, "common", "variance") == "learned_range" and not model.predicts_variance:
        raise ParamError(f"parta.{name}.common.variance='learned_range' is not allowed: the {model.name} model "
                         f"predicts no variance; allowed there: {', '.join(FIXED_VARIANCES)}")
    for entry in knob_at(cfg, "anagram", "anagrams") or []:
        views_for(entry.views, model)


@dataclass
class Context:
    """An experiment's engine (model, process, conditions, CFG scale, seed) and what its figure needs: its params
    section, where figures go and how images are shown."""
    engine: Engine
    cfg: Experiments  # params.yaml parta.<model>
    out_dir: Path
    mnist_dir: Path = Path("data/dataset")
    name: str = ""  # the experiment running: names its figure

    def __post_init__(self):
        check_against_model(self.cfg, self.model)

    @classmethod
    def of(cls, model: DiffusionModel, conds, cfg: Experiments, seed: int, out_dir: Path, **kwargs) -> "Context":
        """A context whose engine steps as cfg.common says (engine.process_of), its CFG scale cfg.common's."""
        return cls(Engine(model, process_of(model, cfg.common), conds, cfg.common.guidance_scale, seed), cfg, out_dir,
                   **kwargs)

    @property
    def model(self) -> DiffusionModel:
        return self.engine.model

    @property
    def common(self) -> Common | FlowCommon:
        return self.cfg.common

    @property
    def words(self) -> Wording:
        """How the figures name the model's process: its times, starts, formulas and sampler."""
        return wording(self.model.objective)

    def image(self, ref: str) -> torch.Tensor:
        x = load_image(ref, self.model.image_size, self.model.channels, self.mnist_dir)
        return self.model.to_model(x.to(self.model.device))

    def quote(self, prompt: str) -> str:
        """A prompt as figures show it: quoted, and a label of a dataset whose classes have names with its name
        ("'6' (Shirt)" on Fashion-MNIST)."""
        classes = getattr(self.model, "classes", ())  # only the project's own model has labels
        if prompt.isdigit() and int(prompt) < len(classes) and classes[int(prompt)] != prompt:
            return f"{prompt!r} ({classes[int(prompt)]})"
        return repr(prompt)

    def show(self, x: torch.Tensor, prompts: list[str] | None = None, resize: str = "nearest") -> torch.Tensor:
        """[0, 1] images for a figure at the display size: results go through the model's upsampler (IF stage II)
        with their prompts, image i with prompt i; inputs and noisy images are only enlarged (nearest neighbour, so
        the pixels stay visible), an image that must not gain detail (a low-pass view) by resize="bilinear"."""
        if prompts is not None:
            x = self.model.upsample(x, self.engine.conds(*prompts), self.engine.null(len(prompts)),
                                    self.engine.generator())
        x = self.model.to_unit(x).float().cpu()
        size = self.model.display_size
        return x if x.shape[-1] == size else F.interpolate(x, size=size, mode=resize)

    @property
    def figure(self) -> Path:
        """The running experiment's figure."""
        return self.out_dir / f"{self.name}.png"

    def titled(self, title: str) -> str:
        """A figure's title with the line every part A figure ends with: model, seed, sampler."""
        return f"{title}\n[{self.model.name}, seed {self.engine.seed}, {self.words.about(self.engine.process)}]"

    def save(self, rows, title: str, **labels) -> Path:
        image_rows(rows, self.figure, title=self.titled(title), **labels)
        return self.figure


def _blank(shown: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(shown[:1])


def sample(ctx: Context) -> None:
    """A0: text-to-image sampling with CFG from pure noise at several numbers of inference steps."""
    p, e = ctx.cfg.sample, ctx.engine
    rows = []
    for steps in p.num_inference_steps:
        x = e.sample(e.guided(*p.prompts), len(p.prompts), progress=f"{steps} steps",
                     grid=e.process.grid(num_steps=steps))
        rows.append(ctx.show(x, p.prompts))
    ctx.save(rows, f"Sampling with CFG (scale {e.scale})",
             col_labels=[ctx.quote(q) for q in p.prompts],
             row_labels=[f"{s} steps" for s in p.num_inference_steps])


def _noisy_test_images(ctx: Context) -> tuple[torch.Tensor, list, torch.Tensor]:
    """The test image and the forward process's images of it at forward.timesteps (a DDPM) or forward.times (a
    flow), from one generator."""
    ts, e = ctx.cfg.forward.times, ctx.engine
    x0 = ctx.image(ctx.common.test_image)
    g = e.generator()
    return x0, ts, torch.cat([e.noised(x0, t, g) for t in ts])


def forward(ctx: Context) -> None:
    """A1.1: the forward process on the test image."""
    x0, ts, noisy = _noisy_test_images(ctx)
    label = ctx.words.label
    ctx.save([ctx.show(torch.cat([x0, noisy]))], f"Forward process {ctx.words.forward}",
             col_labels=["original"] + [label(t) for t in ts])


def blur(ctx: Context) -> None:
    """A1.2: classical denoising with a Gaussian blur."""
    p = ctx.cfg.blur
    _, ts, noisy = _noisy_test_images(ctx)
    blurred = alg.gaussian_blur(noisy, p.kernel_size, p.sigma)
    ctx.save([ctx.show(noisy), ctx.show(blurred)], f"Gaussian blur denoising (kernel {p.kernel_size}, "
             f"sigma {p.sigma})", row_labels=["noisy", "blurred"],
             col_labels=[ctx.words.label(t) for t in ts])


def one_step(ctx: Context) -> None:
    """A1.3: the one-step estimate of the clean image (a DDPM's x0_hat, a flow's x1_hat)."""
    prompt, e = ctx.cfg.one_step.prompt, ctx.engine
    x0, ts, noisy = _noisy_test_images(ctx)
    est = torch.cat([e.one_step(noisy[i:i + 1], t, e.conditional(prompt)) for i, t in enumerate(ts)])
    ctx.save([ctx.show(noisy), ctx.show(est, [prompt] * len(ts)), ctx.show(x0.expand_as(noisy))],
             f"One-step denoising, prompt {ctx.quote(prompt)}", row_labels=["noisy", "one-step estimate", "original"],
             col_labels=[ctx.words.label(t) for t in ts])


def velocity(ctx: Context) -> None:
    """The course's 1.4 (2026), "visualizing velocity", on any process: at each time of the forward process the
    update the model predicts from x_t to the clean image, process.clean(x_t, t, estimate) - x_t (a flow's
    (1 - t) v_hat, a DDPM's x0_hat - x_t), against the true one, x0 - x_t, and their per-pixel RMS error."""
    prompt, e = ctx.cfg.velocity.prompt, ctx.engine
    x0, ts, noisy = _noisy_test_images(ctx)
    predicted = torch.cat([e.update(noisy[i:i + 1], t, e.conditional(prompt)) for i, t in enumerate(ts)])
    update_rows(ctx.show(noisy), predicted, x0 - noisy, ctx.figure,
                ctx.titled(f"The update to the clean image, predicted: {ctx.words.update}, prompt "
                           f"{ctx.quote(prompt)}"), [ctx.words.label(t) for t in ts])


def iterative(ctx: Context) -> None:
    """A1.4: iterative denoising along the grid from iterative's start, against one-step and blur."""
    p, e = ctx.cfg.iterative, ctx.engine
    g = e.generator()
    x0 = ctx.image(ctx.common.test_image)
    grid, i_start = e.walk(p.start)  # a flow's t_start may lie off the grid of Euler steps
    t0 = grid[i_start]
    x_t = e.noised(x0, t0, g)
    frames, labels = [x_t], [f"{ctx.words.label(t0)} (start)"]

    def every(i: int, t_next, x: torch.Tensor) -> None:
        if (i + 1) % p.show_every == 0 and t_next != e.process.end:
            frames.append(x), labels.append(ctx.words.label(t_next))

    predictor = e.conditional(p.prompt)
    clean = e.denoise(x_t, i_start, predictor, g, on_step=every, progress="iterative denoising", grid=grid)
    one = e.one_step(x_t, t0, predictor)
    blurred = alg.gaussian_blur(x_t, ctx.cfg.blur.kernel_size, ctx.cfg.blur.sigma)
    ctx.save([ctx.show(torch.cat(frames)), torch.cat([ctx.show(x0), ctx.show(clean, [p.prompt]),
                                                      ctx.show(one, [p.prompt]), ctx.show(blurred)])],
             f"Iterative denoising from {ctx.words.start_title(p.start, t0)}, every {p.show_every}th step, "
             f"prompt {ctx.quote(p.prompt)}",
             row_labels=["iterative steps", "original | iterative\n| one-step | blur"], col_labels=labels)


def _from_noise(ctx: Context, section: str, predictor_for: Callable[[list[str]], Predictor], title: str) -> None:
    p = getattr(ctx.cfg, section)
    x = ctx.engine.sample(predictor_for(p.prompts), len(p.prompts), progress=section)
    ctx.save([ctx.show(x, p.prompts)], title, col_labels=[ctx.quote(q) for q in p.prompts])


def sample_noise(ctx: Context) -> None:
    """A1.5: sampling from pure noise (i_start = 0) without guidance."""
    _from_noise(ctx, "sample_noise", lambda prompts: ctx.engine.conditional(*prompts),
                "Sampling from pure noise, no guidance")


def cfg(ctx: Context) -> None:
    """A1.6: sampling with classifier-free guidance."""
    _from_noise(ctx, "cfg", lambda prompts: ctx.engine.guided(*prompts),
                f"Sampling with classifier-free guidance, scale {ctx.engine.scale}")


def _sdedit_rows(ctx: Context, images: list[str], prompt: str, title: str) -> None:
    e = ctx.engine
    starts = ctx.cfg.sdedit.starts
    walks = [e.walk(s) for s in starts]  # (grid, index): a flow's t_start may lie off the grid of Euler steps
    rows = []
    for ref in images:
        x0 = ctx.image(ref)
        g = e.generator()
        edits = [e.sdedit(x0, i, e.guided(prompt), g, grid=grid) for grid, i in walks]
        rows.append(torch.cat([ctx.show(torch.cat(edits), [prompt] * len(edits)), ctx.show(x0)]))
    ctx.save(rows, f"{title}, prompt {ctx.quote(prompt)}, CFG {e.scale}",
             row_labels=[r.split(":")[-1].split("/")[-1] for r in images],
             col_labels=[ctx.words.start_label(s, grid[i]) for s, (grid, i) in zip(starts, walks)] + ["original"])


def sdedit(ctx: Context) -> None:
    """A1.7: SDEdit on the test image and more images."""
    p = ctx.cfg.sdedit
    _sdedit_rows(ctx, [ctx.common.test_image] + p.images, p.prompt, "SDEdit (image-to-image)")


def sdedit_drawings(ctx: Context) -> None:
    """A1.7.1: SDEdit on a web-style image and hand-drawn images."""
    p = ctx.cfg.sdedit_drawings
    _sdedit_rows(ctx, p.images, p.prompt, "SDEdit on web and hand-drawn images")


def inpaint(ctx: Context) -> None:
    """A1.7.2: RePaint inpainting: new content where the mask is 1."""
    p, e = ctx.cfg.inpaint, ctx.engine
    rows = [[], [], [], []]
    for ref, spec in zip([ctx.common.test_image] + p.images, p.masks, strict=True):  # params.check pairs them
        x0 = ctx.image(ref)
        mask = make_mask(spec, ctx.model.image_size).to(x0.device)
        out = e.inpaint(x0, mask, e.guided(p.prompt), progress=f"inpainting {ref}")
        shown_mask = F.interpolate(mask.expand_as(x0).float().cpu(), size=ctx.model.display_size, mode="nearest")
        for row, x in zip(rows, (ctx.show(x0), shown_mask, ctx.show(x0) * shown_mask, ctx.show(out, [p.prompt]))):
            row.append(x)
    ctx.save([torch.cat(r) for r in rows], f"Inpainting (RePaint), prompt {ctx.quote(p.prompt)}",
             row_labels=["original", "mask", "to replace", "result"])


def translate(ctx: Context) -> None:
    """A1.7.3: text-conditional image-to-image translation: SDEdit guided by another prompt."""
    p = ctx.cfg.translate
    _sdedit_rows(ctx, [ctx.common.test_image] + p.images, p.prompt, "Text-conditional image-to-image")


def caption_notes(ctx: Context) -> str:
    """What a figure must say about how the model sampled where it departs from the model's own pipeline (IF:
    stage I's x0 estimate is not thresholded; deepfloyd.py says why), one line; "" where nothing departs."""
    note = getattr(ctx.model, "caption_note", "")
    return f"\n{note}" if note else ""


def anagram(ctx: Context) -> None:
    """A1.8: visual anagrams: one image that follows prompt k through view k (the course's: upright / upside down);
    each anagram sampled on its own (its views differ), every column from the same seed.

    Row k shows view k of the sample: where the model upsamples for display (IF stage II), view k of the 64 x 64
    sample goes through the upsampler with prompt k, so each row is the view its prompt describes, not the view of
    an image upsampled for prompt 1 (stage II adds detail that follows its prompt)."""
    entries, engine = ctx.cfg.anagram.anagrams, ctx.engine
    views = [views_for(e.views, ctx.model) for e in entries]  # checked by check_against_model
    rows: list[list[torch.Tensor]] = [[] for _ in range(max(len(v) for v in views))]
    for e, vs in zip(entries, views):
        x = engine.sample(engine.anagram(e.prompts, vs), 1, progress=f"anagram {'/'.join(e.views)}")
        shown = ctx.show(torch.cat([v(x) for v in vs]), e.prompts)  # view k, upsampled with prompt k
        for k, row in enumerate(rows):
            row.append(shown[k:k + 1] if k < len(vs) else _blank(shown))
    upsampled = ", each view upsampled with its own prompt" if ctx.model.display_size != ctx.model.image_size else ""
    ctx.save([torch.cat(r) for r in rows], f"Visual anagrams: prompt k through view k{upsampled}{caption_notes(ctx)}",
             row_labels=[f"view {k + 1}" for k in range(len(rows))],
             col_labels=["\n".join(f"{v}: {ctx.quote(q)}" for v, q in zip(e.views, e.prompts)) for e in entries])


def hybrid(ctx: Context) -> None:
    """A1.9: hybrid images: low frequencies from one prompt (seen from afar), high from another (up close).

    The low-pass row is the sample blurred, then enlarged (bilinear): it never goes through an upsampler, whose
    detail (IF stage II adds high frequencies, following its prompt) would make it no longer a low-pass view. The full
    row is upsampled with the near prompt, the one that sets the high frequencies stage II works on."""
    p, e = ctx.cfg.hybrid, ctx.engine
    fars, nears = [a for a, _ in p.pairs], [b for _, b in p.pairs]
    predictor = e.factorized([fars, nears], alg.frequency_bands([(p.kernel_size, p.sigma)]))
    x = e.sample(predictor, len(fars), progress="hybrids")
    full = ctx.show(x, nears)
    small = F.interpolate(F.interpolate(full, scale_factor=1 / p.view_downscale, mode="area"), size=full.shape[-1],
                          mode="nearest")
    low = ctx.show(alg.gaussian_blur(x, p.kernel_size, p.sigma), resize="bilinear")
    side = ctx.model.image_size
    upsampled = (f"\nfull size: upsampled with the near prompt; low-pass view: the {side} x {side} sample blurred, "
                 "then enlarged" if ctx.model.display_size != side else "")
    ctx.save([full, small, low], f"Hybrid images (low-pass: Gaussian kernel {p.kernel_size}, sigma {p.sigma})"
             f"{upsampled}{caption_notes(ctx)}",
             row_labels=["full size (near)", f"1/{p.view_downscale} size (far)", "low-pass view"],
             col_labels=[f"far {ctx.quote(a)} / near {ctx.quote(b)}" for a, b in p.pairs])


def band_blurs(p: Factorized) -> list[tuple[int, float]]:
    """factorized.kernel_sizes / sigmas as the blurs of alg.frequency_bands, the widest (low band) first."""
    return list(zip(p.kernel_sizes, p.sigmas))


ROLES = {"bands": ("far:", "mid:", "near:"), "color": ("gray:", "colour:")}  # what each factorized prompt sets


def factorized(ctx: Context) -> None:
    """Factorized diffusion beyond the course's hybrids: three frequency bands (low / mid / high: seen from afar, from
    a middle distance, up close) and, on colour models, grayscale / colour; one column per item, from one seed."""
    p = ctx.cfg.factorized
    blurs = band_blurs(p)
    components = {"bands": alg.frequency_bands(blurs), "color": alg.gray_and_color()}
    kinds = {e.kind for e in p.items}
    rows: list[list[torch.Tensor]] = [[], [], []] if "bands" in kinds else [[], []]
    for e in p.items:
        x = ctx.engine.sample(ctx.engine.factorized([[q] for q in e.prompts], components[e.kind]), 1,
                              progress=f"factorized {e.kind}")
        if e.kind == "bands":  # up close (upsampled with the high band's prompt), then the blurred views of the
            wide, narrow, close = alg.band_views(x, blurs)  # sample, never through the upsampler (as hybrid's)
            cells = [ctx.show(close, e.prompts[-1:]), ctx.show(narrow, resize="bilinear"),
                     ctx.show(wide, resize="bilinear")]
        else:  # in colour, and its grayscale
            full = ctx.show(x, [e.prompts[1]])
            cells = [full, alg.grayscale(full), _blank(full)]
        for row, cell in zip(rows, cells):
            row.append(cell)
    labels = {frozenset({"bands"}): ["up close", "middle distance\n(narrow blur)", "afar\n(wide blur)"],
              frozenset({"color"}): ["colour", "grayscale"],
              frozenset({"bands", "color"}): ["full image", "narrow blur\nor grayscale", "wide blur"]}[frozenset(kinds)]
    (k1, k2), (s1, s2) = p.kernel_sizes, p.sigmas
    side = ctx.model.image_size
    upsampled = (f"\nupsampled: the full image (with the near or colour prompt); blurred views: the {side} x {side} "
                 "sample blurred, then enlarged" if ctx.model.display_size != side else "")
    ctx.save([torch.cat(r) for r in rows], "Factorized diffusion: "
             + " and ".join({"bands": f"three frequency bands (blurs: wide sigma {s1}, kernel {k1}; narrow sigma "
                                      f"{s2}, kernel {k2})", "color": "grayscale / colour"}[k] for k in sorted(kinds))
             + upsampled + caption_notes(ctx),
             row_labels=labels,
             col_labels=["\n".join(f"{role} {ctx.quote(q)}" for role, q in zip(ROLES[e.kind], e.prompts))
                         for e in p.items])


# Each experiment of config/experiments.py's PART_A (its name, sections, figure, title and caption) and the function
# of that name above that runs it, in the same order.
EXPERIMENTS = {e.name: globals()[e.name] for e in PART_A}


def run(name: str, ctx: Context) -> Path:
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment {name!r}; allowed: {', '.join(EXPERIMENTS)}")
    ctx.name = name
    with torch.no_grad():
        EXPERIMENTS[name](ctx)
    return ctx.out_dir / f"{name}.png"
