"""The explorer's page (Gradio Blocks) and its command line: pick a run (the workspace, a git revision or an
experiment), a model and the sampler's settings, and see the digits with the judge's verdict; a second run beside it
compares two experiments from the same noise, and a slider runs over the steps of its reverse process. The Anagram
tab makes visual anagrams with part A's engine and shows them through each view, the Bands tab images whose
frequency bands read as different digits, through each band; the Draw tab edits a drawn (or MNIST test) digit by
SDEdit or inpainting. Every tab's Cancel stops its work after the step under way. Served on
127.0.0.1 only, fully offline: no analytics, system fonts, no server-side rendering, nothing fetched from outside.
Each tab's button is also an endpoint of Gradio's API, named, with its parameters named in words, for gradio_client:
/sample, /frame, /anagram, /bands, /edit and /under_the_mask (the Cancel buttons are the page's alone).

    python -m difflab.explore [--port 7860] [--repo .]      # make explore
"""

import argparse
import contextlib
import itertools
import math
import os
import threading

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it reads this at import
import gradio as gr  # noqa: E402
import torch  # noqa: E402

from difflab.config.runtime import PRECISIONS, Runtime, resolve  # noqa: E402
from difflab.core.ddpm import FIXED_VARIANCES  # noqa: E402
from difflab.core.processes import FlowProcess  # noqa: E402
from difflab.errors import InputError  # noqa: E402
from difflab.explore import anagram as an  # noqa: E402
from difflab.explore import bands as bd  # noqa: E402
from difflab.explore import draw as dr  # noqa: E402
from difflab.explore.runs import MODELS, WORKSPACE, RunError, Runs  # noqa: E402
from difflab.explore.sample import (SAMPLERS, Settings, batch_size_of, draw, parse_digits, picture,  # noqa: E402
                                    verdicts)
from difflab.explore.steps import Cancelled, Cancels, Frames  # noqa: E402
from difflab.parta.load import part_a_model  # noqa: E402
from difflab.reporting.compare_page import known_experiments  # noqa: E402
from difflab.core.views import VIEWS  # noqa: E402
from difflab.sampling.generate import steps_of  # noqa: E402

HOST = "127.0.0.1"
# the system's own fonts: the default theme's would be served locally, but a page that names none fetches none
THEME = gr.themes.Default(font=("ui-sans-serif", "system-ui", gr.themes.Font("sans-serif")),
                          font_mono=("ui-monospace", "Consolas", gr.themes.Font("monospace")))
VERDICT_HEADERS = ["row", "asked", "judged", "confidence"]
ANAGRAM_HEADERS = ["view", "sample", "asked", "judged", "confidence"]
BAND_HEADERS = ["band", "sample", "asked", "judged", "confidence"]
PART_A_SAMPLERS = ("DDPM step", "DDIM")  # part A's sampler: ddpm (the posterior step, fixed_small) | ddim (eta)
# The Draw tab's SDEdit start by objective (its default and label): a DDPM's i_start into its strided timesteps, a
# flow model's t_start, any time in [0, 1) (the course's 0.4, of its 0.02 ... 0.5)
SDEDIT_START = {"ddpm": (10, "SDEdit i_start (0 = pure noise)"),
                "flow": (0.4, "SDEdit t_start (0 = pure noise, 1 = the input; any time in [0, 1))")}
CANVAS = 280  # the drawing canvas' side: ten times MNIST's, so a brush of BRUSH pixels draws MNIST's stroke width
BRUSH = 22
MASK_BRUSH = 40  # the mask canvas' brush: four MNIST pixels wide, to paint a region rather than a stroke
MASK_INK = "#ff3b30"  # red over the grey digit; only where it is painted counts, not its colour
REGIONS = ("box", "drawn mask")  # where inpainting redraws


def number(name: str, value) -> float:
    """A finite number from a page field, or an InputError naming the field (an emptied field gives None; inf and
    NaN come only through the API, and no setting takes them)."""
    if value is None:
        raise InputError(f"{name} is empty; allowed: a number")
    if not math.isfinite(float(value)):
        raise InputError(f"{name}={float(value)!r}; allowed: a finite number")
    return float(value)


def integer(name: str, value) -> int:
    """A whole number from a page field, or an InputError naming the field."""
    if number(name, value) != int(value):
        raise InputError(f"{name}={value!r}; allowed: a whole number")
    return int(value)


def start_of(value) -> float | int:
    """SDEdit's start from its field (a float on the page): a whole number as an int, as a DDPM's i_start is
    written; any other number as it is (a flow model's t_start)."""
    x = number("SDEdit start", value)
    return int(x) if x.is_integer() else x


def settings_of(digits: str, rows, scale, steps, sampler: str, eta, variance: str, seed) -> Settings:
    """The page's fields as the sampler's settings (checked against the model by sample.check)."""
    return Settings(parse_digits(digits), integer("rows", rows), number("CFG scale", scale), integer("steps", steps),
                    sampler, number("eta", eta), variance, integer("seed", seed))


def describe(run: str, model: str, meta: dict, params: dict, s: Settings, batch_size: int | None = None) -> str:
    """The caption of one grid: the run, its model and what it was trained with, the sampler's settings and the
    batch size it drew with (the run's sample_batch_size)."""
    sampler = f"DDIM eta {s.eta:g}" if s.sampler == "DDIM" else (
        f"DDPM step, {s.variance}" if s.sampler == "DDPM step" else "flow Euler")
    knobs = ", ".join(f"{k} {v}" for k, v in (params.get(model) or {}).items())
    guided = f", CFG scale {s.guidance_scale:g}" if meta["conditioning"] == "class" else ""
    batched = f"{batch_size} at a time" if batch_size else "all at once"
    return (f"**{run}**: {MODELS[model]} (`{model}`, D={meta['hidden']}, epoch {meta.get('epoch', '?')}); "
            f"{sampler}, {s.num_steps} steps{guided}, seed {s.seed}, {batched} (sample_batch_size).  \n"
            f"Trained with: {knobs or 'params not found'}")


def judged(runs: Runs, run: str, x: torch.Tensor, asked: list[int] | None, ncols: int) -> tuple[str, list[list]]:
    """The judge's summary line and its verdict on each digit (row, asked, judged, confidence)."""
    try:
        judge = runs.judge(run)
    except RunError as e:
        gr.Warning(f"No verdicts: {e}")
        return f"No judge in this run: {e}", []
    labels, confidence = verdicts(judge, x)
    table = [[i // ncols + 1, "-" if asked is None else asked[i], label, round(c, 3)]
             for i, (label, c) in enumerate(zip(labels, confidence))]
    mean = sum(confidence) / len(confidence)
    if asked is None:
        return f"The judge's labels (mean confidence {mean:.2f}).", table
    right = sum(a == label for a, label in zip(asked, labels))
    return f"Judged as asked: **{right} / {len(labels)}** (mean confidence {mean:.2f}).", table


def sample_one(runs: Runs, runtime: Runtime, run: str, model: str, s: Settings, progress: gr.Progress,
               cancel: threading.Event | None = None):
    """One run's grid, caption and verdicts, and the film of its reverse process (Frames). The images go through
    the model the run's sample_batch_size at a time (all at once where its params have none), as its sample stages
    draw them: the same settings give the stage's grid exactly."""
    run = run.strip() or WORKSPACE
    unet, meta = runs.model(run, model)
    params = runs.params(run)
    batch_size = batch_size_of(params, run)
    n = len(s.digits) * s.rows
    total = (steps_of(meta, s.num_steps) if 1 <= s.num_steps else 0) * math.ceil(n / (batch_size or n or 1))
    progress((0, total), desc=f"{run}: sampling", unit="steps")
    ncols = len(s.digits)
    frames = Frames(ncols)
    done = itertools.count(1)  # steps of every batch, one batch after another
    x = draw(unet, meta, s, runtime, batch_size, frames=frames, cancel=cancel,
             on_step=lambda i, _t, _x: progress((next(done), total), desc=f"{run}: sampling", unit="steps"))
    asked = list(s.digits) * s.rows if unet.conditioning == "class" else None
    summary, table = judged(runs, run, x, asked, ncols)
    return picture(x, ncols), describe(run, model, meta, params, s, batch_size) + "  \n" + summary, table, frames


def film_at(film: list[Frames | None] | None, frame) -> tuple:
    """Frame `frame` (0 = the noise) of the reverse process for each run (None where there is no run or no film
    yet) and its label."""
    shown = [f for f in film or [] if f is not None]
    if not shown:
        return None, None, "Sample first: the reverse process of the grid shows here, step by step."
    k = min(max(int(frame or 0), 0), len(shown[0].pictures) - 1)
    pictures = [f.pictures[k] if f is not None else None for f in film]
    every = shown[0].every
    kept = "every step is kept" if every == 1 else f"every {every}{ordinal_suffix(every)} step is kept"
    return (*pictures, f"**Frame {k + 1} of {len(shown[0].pictures)}**: {shown[0].labels[k]} "
            f"({kept}; the last frame is the grid above).")


def ordinal_suffix(n: int) -> str:
    """1 -> st, 2 -> nd, 3 -> rd, 11 -> th, 21 -> st: 'every 21st step'."""
    return "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def engine_of(scale, stride, seed, sampler: str, eta, step) -> an.EngineSettings:
    """The page's part A fields as the engine's settings (checked against the model by anagram.check_engine): the
    DDPM's stride and sampler, the flow model's Euler step; a model reads its own and ignores the others'."""
    if sampler not in PART_A_SAMPLERS:
        raise InputError(f"sampler {sampler!r}; allowed: {', '.join(PART_A_SAMPLERS)}")
    return an.EngineSettings(number("CFG scale", scale), integer("stride", stride), integer("seed", seed),
                             None if sampler == "DDPM step" else number("eta", eta), step=number("Euler step", step))


def describe_engine(e: an.EngineSettings, engine) -> str:
    """How a caption names the engine: its steps and sampler (a DDPM's stride, a flow's Euler step), CFG, seed."""
    ts = engine.grid
    if isinstance(engine.process, FlowProcess):
        return f"{len(ts)} Euler steps (h = {e.step:g}), CFG scale {e.guidance_scale:g}, seed {e.seed}"
    sampler = "DDPM step" if e.eta is None else f"DDIM eta {e.eta:g}"
    return (f"{len(ts)} steps (stride {e.stride}, {ts[0]} .. 0), CFG scale {e.guidance_scale:g}, {sampler}, "
            f"seed {e.seed}")


def part_a(runs: Runs, runtime: Runtime, run: str, name: str):
    """The run's name and its class-conditioned model `name` (the DDPM or the flow model) behind part A's
    interface."""
    if name not in an.PART_A_MODELS:
        raise InputError(f"model {name!r}; allowed: {', '.join(an.PART_A_MODELS)} (part A runs on the class models)")
    run = run.strip() or WORKSPACE
    unet, meta = runs.model(run, name)
    return run, part_a_model(unet, meta, runtime)


def judge_or_none(runs: Runs, run: str):
    """The run's judge, or None with a warning on the page saying why there are no verdicts."""
    try:
        return runs.judge(run)
    except RunError as e:
        gr.Warning(f"No verdicts: {e}")
        return None


def anagram_one(runs: Runs, runtime: Runtime, run: str, name: str, s: an.AnagramSettings, progress: gr.Progress,
                cancel: threading.Event | None = None):
    """The anagrams by model `name` through each view (row k: view k of every sample), the caption and the judge's
    verdicts."""
    run, model = part_a(runs, runtime, run, name)
    engine, _ = an.check(model, s)
    ts = engine.grid
    progress((0, len(ts)), desc=f"{run}: anagram", unit="steps")
    x = an.make(model, s, cancel=cancel,
                on_step=lambda i, _t, _x: progress((i + 1, len(ts)), desc=f"{run}: anagram", unit="steps"))
    shown = an.seen(x, s.views)
    what = ", ".join(f"{d} through {v}" for d, v in zip(s.digits, s.views))
    caption = (f"**{run}** ({name}): anagram {what}; {describe_engine(s.engine, engine)}; {s.count} sample(s). "
               "Row k: every sample through view k.")
    summary, table = judged_views(runs, run, shown, list(s.views), s.digits, s.count, "view")
    return picture(shown, s.count), caption + "  \n" + summary, table


def judged_views(runs: Runs, run: str, shown: torch.Tensor, names: list[str], digits: tuple[int, ...], count: int,
                 what: str) -> tuple[str, list[list]]:
    """The judge on each sample through each view (row k of `shown`: view k of every sample, asked to read as
    digit k): how many samples read as asked through every view, and the table (view, sample, asked, judged,
    confidence). `what` names the views on the page (view, band)."""
    judge = judge_or_none(runs, run)
    if judge is None:
        return "No judge in this run.", []
    labels, confidence = verdicts(judge, shown)
    asked = [d for d in digits for _ in range(count)]
    table = [[names[k // count], k % count + 1, asked[k], label, round(c, 3)]
             for k, (label, c) in enumerate(zip(labels, confidence))]
    right = torch.tensor([a == label for a, label in zip(asked, labels)]).reshape(len(names), count)
    return f"Every {what} judged as asked: **{int(right.all(0).sum())} / {count}** samples.", table


def blur_of(text: str) -> bd.Blur | None:
    """"9 2.0" -> (9, 2.0); None when it is not a whole number and a finite number."""
    pair = text.split()
    try:
        blur = (int(pair[0]), float(pair[1])) if len(pair) == 2 else None
    except ValueError:
        return None
    return blur if blur is not None and math.isfinite(blur[1]) else None


def blurs_of(text: str) -> tuple[bd.Blur, ...]:
    """"9 2.0, 3 0.7" -> the blurs (kernel size, sigma), widest first; bands.check checks their sizes and order."""
    blurs = [(part, blur_of(part)) for part in (text or "").split(",")]
    for part, blur in blurs:
        if blur is None:
            raise InputError(f"blurs {text!r}: {part.strip()!r} is not a blur; allowed: a kernel size (an odd whole "
                             "number) and a sigma per blur, blurs separated by commas, widest first (e.g. 9 2.0, "
                             "3 0.7)")
    return tuple(blur for _, blur in blurs)


def bands_one(runs: Runs, runtime: Runtime, run: str, name: str, s: bd.BandSettings, progress: gr.Progress,
              cancel: threading.Event | None = None):
    """The samples by model `name` through each band (row k: band k of every sample), the caption and the judge's
    verdicts."""
    run, model = part_a(runs, runtime, run, name)
    engine = bd.check(model, s)
    ts = engine.grid
    progress((0, len(ts)), desc=f"{run}: bands", unit="steps")
    x = bd.make(model, s, cancel=cancel,
                on_step=lambda i, _t, _x: progress((i + 1, len(ts)), desc=f"{run}: bands", unit="steps"))
    names = bd.band_names(s.blurs)
    seen_as = [f"through the blur kernel {k}, sigma {sigma:g}" for k, sigma in s.blurs] + ["the image itself"]
    what = "; ".join(f"{band} band {d} (seen {how})" for band, d, how in zip(names, s.digits, seen_as))
    caption = (f"**{run}** ({name}): frequency bands: {what}; {describe_engine(s.engine, engine)}; {s.count} "
               "sample(s). Row k: every sample through band k's view, low (the widest blur, as from afar) to high "
               "(up close).")
    shown = bd.seen(x, s.blurs)
    summary, table = judged_views(runs, run, shown, names, s.digits, s.count, "band")
    return picture(shown, s.count), caption + "  \n" + summary, table


def box_of(text: str) -> tuple[float, ...]:
    """"0, 0.5, 0, 1" -> the inpainting box (top, bottom, left, right fractions; make_mask checks their order)."""
    try:
        box = tuple(float(v) for v in (text or "").replace(",", " ").split())
    except ValueError:
        box = ()
    if len(box) != 4 or not all(map(math.isfinite, box)):
        raise InputError(f"mask box {text!r}; allowed: four fractions of the side: top, bottom, left, right "
                         "(e.g. 0, 0.5, 0, 1 = the top half)")
    return box


def canvas_of(value) -> object:
    """The drawing of a Sketchpad (its composite: strokes over any uploaded background), or None."""
    return value.get("composite") if isinstance(value, dict) else value


def strokes_of(value) -> list | None:
    """The layers of a Sketchpad (the strokes painted on it, without its background), or None."""
    return value.get("layers") if isinstance(value, dict) else None


def input_of(runs: Runs, run: str, source: str, canvas, index) -> tuple[torch.Tensor, int | None]:
    """The Draw tab's input (1, 1, 28, 28): the drawing on the canvas or an MNIST test digit, and the test digit's
    label (None for a drawing)."""
    if source == "canvas":
        return dr.from_drawing(canvas_of(canvas)), None
    return dr.mnist_digit(runs, run.strip() or WORKSPACE, integer("test digit", index))


def region_of(mode: str, region: str, mask_canvas) -> torch.Tensor | None:
    """The mask painted by hand when inpainting inside a drawn mask, else None (the box, or SDEdit)."""
    if region not in REGIONS:
        raise InputError(f"inpaint inside {region!r}; allowed: {', '.join(REGIONS)}")
    return dr.mask_from_strokes(strokes_of(mask_canvas)) if mode == "inpaint" and region == "drawn mask" else None


def edit_one(runs: Runs, runtime: Runtime, run: str, name: str, source: str, canvas, index, s: dr.EditSettings,
             progress: gr.Progress, cancel: threading.Event | None = None):
    """The input (and for inpainting its mask), its edit by model `name`, the strip of steps, and the caption."""
    run, model = part_a(runs, runtime, run, name)
    engine, mask, (ts, i_start) = dr.check(model, s)
    x0, truth = input_of(runs, run, source, canvas, index)
    out, frames, labels = dr.edit(model, x0, s, cancel=cancel, on_step=lambda i, total: progress(
        (i + 1, total), desc=f"{run}: {s.mode}", unit="steps"))
    inputs = torch.cat([x0, mask.cpu()]) if mask is not None else x0
    region = f"the box {list(s.box)}" if s.drawn is None else f"the mask painted by hand ({int(mask.sum())} pixels)"
    how = (f"SDEdit from {engine.process.start_title(s.start, ts[i_start])}" if mask is None else
           f"inpainting inside {region} (white in the mask)")
    toward = repr(s.prompt) if s.prompt else "no digit"
    caption = (f"**{run}** ({name}): {how}, toward {toward}; {describe_engine(s.engine, engine)}."
               + (f" The test digit's label: {truth}." if truth is not None else ""))
    judge = judge_or_none(runs, run)
    if judge is not None:
        (before, after), (c0, c1) = verdicts(judge, torch.cat([x0.to(out.device), out]))
        caption += f"  \nThe judge: the input is a {before} ({c0:.2f}), the result a {after} ({c1:.2f})."
    strip = picture(torch.cat(frames), len(frames)) if frames else None
    return picture(inputs, len(inputs)), picture(out, 1), strip, caption + (
        "  \nStrip: " + ", ".join(labels) if labels else "")


@contextlib.contextmanager
def work(cancels: Cancels, request: gr.Request | None, tab: str):
    """One click's work on `tab`: the cancel flag it holds while it runs (its page's and tab's: Cancel sets it), and
    its bad input or its cancellation turned into a message on the page, which keeps what it showed before."""
    with cancels.running((getattr(request, "session_hash", None) or "", tab)) as flag:
        try:
            yield flag
        except InputError as err:
            raise gr.Error(str(err)) from None
        except Cancelled as err:
            raise gr.Error(f"{tab}: {err} (the page keeps what it showed before)", title="Cancelled") from None


def cancel_button(cancels: Cancels, tab: str, elem_id: str) -> gr.Button:
    """A Cancel button that stops the work of its page's `tab` after the step under way (Gradio's own `cancels=`
    would leave the sampling loop running); it runs at once, beside that work, not after it in the queue."""
    button = gr.Button("Cancel", variant="stop", scale=0, min_width=120, elem_id=elem_id)

    def on_cancel(request: gr.Request):
        if not cancels.cancel((request.session_hash or "", tab)):
            gr.Info(f"{tab}: nothing running to cancel.")

    button.click(on_cancel, None, None, concurrency_limit=None, show_progress="hidden", api_visibility="private")
    return button


def build(runs: Runs, choices: list[str], runtime: Runtime | None = None) -> gr.Blocks:
    """The page: the Sample tab (one or two runs side by side, from the same noise), the Anagram tab and the Draw
    tab (part A's engine on the run's class-conditioned DDPM or flow model)."""
    runtime = runtime or Runtime(runs.device, "fp32")
    cancels = Cancels()
    with gr.Blocks(title="difflab explorer", analytics_enabled=False) as demo:
        gr.Markdown("# difflab explorer\nAny run's models: the workspace, a git revision or a DVC experiment "
                    "(`dvc exp show`). A run made elsewhere needs `dvc pull` / `dvc exp pull` first.")
        with gr.Tab("Sample"):
            with gr.Row():
                run_a = gr.Dropdown(choices, value=choices[0], label="run", allow_custom_value=True,
                                    elem_id="run-a")
                run_b = gr.Dropdown(["", *choices], value="", label="compare with (optional second run)",
                                    allow_custom_value=True, elem_id="run-b")
                model = gr.Dropdown(list(MODELS), value="ddpm_class", label="model", elem_id="model")
            with gr.Row():
                digits = gr.Textbox("0-9", label="digits of a row (e.g. 0-9, 3 5 7)", elem_id="digits")
                rows = gr.Number(4, label="rows", precision=0, elem_id="rows")
                scale = gr.Number(3.0, label="CFG scale (class models)", elem_id="scale")
                seed = gr.Number(2718, label="seed", precision=0, elem_id="seed")
            with gr.Row():
                sampler = gr.Radio(list(SAMPLERS), value="DDIM", label="sampler (flow models: flow Euler)",
                                   elem_id="sampler")
                steps = gr.Number(20, label="steps", precision=0, elem_id="steps")
                eta = gr.Number(0.0, label="DDIM eta (0 = deterministic)", elem_id="eta")
                variance = gr.Dropdown(list(FIXED_VARIANCES), value="fixed_small", label="DDPM step variance",
                                       elem_id="variance")
            with gr.Row():
                go = gr.Button("Sample", variant="primary", elem_id="sample")
                cancel_button(cancels, "Sample", "sample-cancel")
            with gr.Row():
                outs = []
                for side in ("a", "b"):
                    with gr.Column():
                        outs += [gr.Image(label=f"run {side.upper()}", type="numpy", format="png",
                                          image_mode="L", elem_id=f"image-{side}"),
                                 gr.Markdown(elem_id=f"caption-{side}"),
                                 gr.Dataframe(headers=VERDICT_HEADERS, label="the judge on each digit",
                                              elem_id=f"verdicts-{side}")]

            with gr.Group():
                film = gr.State(None)
                frame = gr.Slider(0, 1, value=0, step=1, label="the reverse process: frame (noise .. the grid)",
                                  elem_id="frame")
                frame_caption = gr.Markdown(film_at(None, 0)[-1], elem_id="frame-caption")
                with gr.Row():
                    frame_images = [gr.Image(label=f"run {side.upper()} at this step", type="numpy", format="png",
                                             image_mode="L", elem_id=f"frame-{side}") for side in ("a", "b")]

            # the handlers' parameter names are the API's (gradio_client's keywords): words, one per field
            def on_sample(run, compare_with, model, digits, rows, cfg_scale, steps, sampler, eta, variance, seed,
                          request: gr.Request, progress=gr.Progress()):
                """A grid of digits from `run`'s model (and from `compare_with`'s, from the same noise, if given),
                with the judge's verdicts and the reverse process' last frame."""
                with work(cancels, request, "Sample") as flag:
                    s = settings_of(digits, rows, cfg_scale, steps, sampler, eta, variance, seed)
                    first = sample_one(runs, runtime, run, model, s, progress, flag)
                    second = (sample_one(runs, runtime, compare_with, model, s, progress, flag)
                              if compare_with and compare_with.strip() else (None, "", [], None))
                films = [first[3], second[3]]
                last = len(first[3].pictures) - 1
                return (*first[:3], *second[:3], films, gr.update(maximum=last, value=last),
                        *film_at(films, last))

            go.click(on_sample, [run_a, run_b, model, digits, rows, scale, steps, sampler, eta, variance, seed],
                     [*outs, film, frame, *frame_images, frame_caption], concurrency_limit=1, api_name="sample")
            frame.input(film_at, [film, frame], [*frame_images, frame_caption], show_progress="hidden",
                        trigger_mode="always_last", api_name="frame")
        anagram_tab(runs, runtime, choices, cancels)
        bands_tab(runs, runtime, choices, cancels)
        draw_tab(runs, runtime, choices, cancels)
    return demo


def engine_fields(prefix: str) -> list:
    """The model part A runs on (the run's class DDPM or class flow model) and its engine's fields, as
    parta.mnist.common and parta.mnist_flow.common set them: the CFG scale and seed; a DDPM's stride (9 of T = 300:
    34 steps), sampler and DDIM eta; a flow model's Euler step (0.02: 50 steps). Only the chosen model's fields
    show; the others keep their values and go unread."""
    with gr.Row():
        model = gr.Radio(list(an.PART_A_MODELS), value=an.PART_A_MODEL, label="model", elem_id=f"{prefix}-model")
        scale = gr.Number(3.0, label="CFG scale", elem_id=f"{prefix}-scale")
        stride = gr.Number(9, label="stride (timesteps T-1 .. 0 every stride-th)", precision=0,
                           elem_id=f"{prefix}-stride")
        seed = gr.Number(0, label="seed", precision=0, elem_id=f"{prefix}-seed")
        sampler = gr.Radio(list(PART_A_SAMPLERS), value="DDPM step", label="sampler", elem_id=f"{prefix}-sampler")
        eta = gr.Number(0.0, label="DDIM eta", elem_id=f"{prefix}-eta")
        step = gr.Number(0.02, label="Euler step h (1 / the number of steps)", visible=False,
                         elem_id=f"{prefix}-step")

    def on_model(name: str):
        ddpm = an.PART_A_MODELS.get(name) != "flow"
        return [gr.update(visible=ddpm)] * 3 + [gr.update(visible=not ddpm)]

    model.change(on_model, model, [stride, sampler, eta, step], queue=False, show_progress="hidden",
                 api_visibility="private")
    return [model, scale, stride, seed, sampler, eta, step]


def start_field(name: str):
    """The Draw tab's SDEdit start field as model `name` reads it (SDEDIT_START)."""
    value, label = SDEDIT_START[an.PART_A_MODELS.get(name, "ddpm")]
    return gr.update(value=value, label=label)


def anagram_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels) -> None:
    """Two or three digits, a view for each: the anagram through every view, with the judge's verdict."""
    with gr.Tab("Anagram"):
        gr.Markdown("One image that reads as digit k through view k (part A's visual anagrams, on the run's "
                    "class-conditioned DDPM or flow model). The third digit and view are optional.")
        run = gr.Dropdown(choices, value=choices[0], label="run", allow_custom_value=True, elem_id="anagram-run")
        digits, views = [], []
        with gr.Row():
            for k, (d, v) in enumerate((("6", "identity"), ("9", "flip"), ("", ""))):
                optional = [""] if k == 2 else []
                digits.append(gr.Dropdown([*optional, *map(str, range(10))], value=d, label=f"digit {k + 1}",
                                          elem_id=f"anagram-digit-{k + 1}"))
                views.append(gr.Dropdown([*optional, *VIEWS], value=v, label=f"view {k + 1}",
                                         elem_id=f"anagram-view-{k + 1}"))
        count = gr.Number(4, label="samples", precision=0, elem_id="anagram-count")
        engine = engine_fields("anagram")
        with gr.Row():
            go = gr.Button("Make anagrams", variant="primary", elem_id="anagram-go")
            cancel_button(cancels, "Anagram", "anagram-cancel")
        image = gr.Image(label="row k: view k", type="numpy", format="png", image_mode="L", elem_id="anagram-image")
        caption = gr.Markdown(elem_id="anagram-caption")
        table = gr.Dataframe(headers=ANAGRAM_HEADERS, label="the judge on each view", elem_id="anagram-verdicts")

        # the engine's fields by name, not *fields: Gradio hands the request and the progress tracker only to
        # parameters before any *args
        def on_anagram(run, digit_1, view_1, digit_2, view_2, digit_3, view_3, samples, model, cfg_scale, stride,
                       seed, sampler, eta, step, request: gr.Request, progress=gr.Progress()):
            """Visual anagrams from `run`'s class-conditioned `model` (ddpm_class or flow_class): digit k through
            view k (the third pair optional: empty strings), with the judge's verdicts."""
            with work(cancels, request, "Anagram") as flag:
                pairs = [(d, v) for d, v in ((digit_1, view_1), (digit_2, view_2), (digit_3, view_3)) if d or v]
                if any(not d or not v for d, v in pairs):
                    raise InputError(f"digits and views {pairs}; allowed: a digit and a view together")
                s = an.AnagramSettings(tuple(integer("digit", d) for d, _ in pairs), tuple(v for _, v in pairs),
                                       engine_of(cfg_scale, stride, seed, sampler, eta, step),
                                       integer("samples", samples))
                return anagram_one(runs, runtime, run, model, s, progress, flag)

        go.click(on_anagram, [run, digits[0], views[0], digits[1], views[1], digits[2], views[2], count, *engine],
                 [image, caption, table], concurrency_limit=1, api_name="anagram")


def bands_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels) -> None:
    """A digit per frequency band: the image through every band's view, with the judge's verdict."""
    with gr.Tab("Bands"):
        gr.Markdown("Factorized diffusion over frequency bands (part A's hybrids, with more bands): one image whose "
                    "low frequencies (seen from afar: through the widest blur) read as the first digit and whose "
                    "higher bands read as the next ones, up close the last. One blur gives a hybrid image.")
        run = gr.Dropdown(choices, value=choices[0], label="run", allow_custom_value=True, elem_id="bands-run")
        with gr.Row():
            digits = gr.Textbox("0 7 1", label="digits, low band to high (one more than blurs)",
                                elem_id="bands-digits")
            blurs = gr.Textbox("9 2.0, 3 0.7", label="blurs: kernel size and sigma each, widest first",
                               elem_id="bands-blurs")
            count = gr.Number(4, label="samples", precision=0, elem_id="bands-count")
        engine = engine_fields("bands")
        with gr.Row():
            go = gr.Button("Make the bands", variant="primary", elem_id="bands-go")
            cancel_button(cancels, "Bands", "bands-cancel")
        image = gr.Image(label="row k: band k's view (low: widest blur .. high: the image)", type="numpy",
                         format="png", image_mode="L", elem_id="bands-image")
        caption = gr.Markdown(elem_id="bands-caption")
        table = gr.Dataframe(headers=BAND_HEADERS, label="the judge on each band", elem_id="bands-verdicts")

        def on_bands(run, digits, blurs, samples, model, cfg_scale, stride, seed, sampler, eta, step,
                     request: gr.Request, progress=gr.Progress()):
            """Factorized diffusion over frequency bands from `run`'s class-conditioned `model` (ddpm_class or
            flow_class): a digit per band, low to high, with the judge's verdicts."""
            with work(cancels, request, "Bands") as flag:
                e = engine_of(cfg_scale, stride, seed, sampler, eta, step)
                s = bd.BandSettings(parse_digits(digits), blurs_of(blurs), e, integer("samples", samples))
                return bands_one(runs, runtime, run, model, s, progress, flag)

        go.click(on_bands, [run, digits, blurs, count, *engine], [image, caption, table], concurrency_limit=1,
                 api_name="bands")


def draw_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels) -> None:
    """A drawn digit or an MNIST test digit, edited by SDEdit or inpainting, with a strip of its steps."""
    with gr.Tab("Draw"):
        gr.Markdown("Draw a digit (or upload a picture, or pick a test digit of the run's data), then let the run's "
                    "class-conditioned DDPM or flow model edit it: **SDEdit** noises it to its start and denoises "
                    "from there (a DDPM's *i_start*, a step of its strided schedule; a flow model's *t_start*, a "
                    "time in [0, 1); either way small = more noise, larger edits); **inpaint** redraws the "
                    "box, or the region painted on the mask canvas.")
        run = gr.Dropdown(choices, value=choices[0], label="run", allow_custom_value=True, elem_id="draw-run")
        with gr.Row():
            source = gr.Radio(["canvas", "MNIST test digit"], value="canvas", label="input", elem_id="draw-source")
            index = gr.Number(0, label="test digit index", precision=0, elem_id="draw-index")
        canvas = gr.Sketchpad(label="draw a digit", type="numpy", canvas_size=(CANVAS, CANVAS), fixed_canvas=True,
                              sources=("upload",), brush=gr.Brush(default_size=BRUSH, colors=["#000000"],
                                                                  color_mode="fixed"), elem_id="draw-canvas")
        with gr.Row():
            mode = gr.Radio(list(dr.MODES), value="SDEdit", label="edit", elem_id="draw-mode")
            value, label = SDEDIT_START["ddpm"]
            start = gr.Number(value, label=label, elem_id="draw-start")
            region = gr.Radio(list(REGIONS), value="box", label="inpaint inside", elem_id="draw-region")
            box = gr.Textbox("0, 0.5, 0, 1", label="inpaint box: top, bottom, left, right (fractions)",
                             elem_id="draw-box")
            prompt = gr.Dropdown(["", *map(str, range(10))], value="", label="toward digit ('' = none)",
                                 elem_id="draw-prompt")
            every = gr.Number(5, label="strip: every k-th step (0 = none)", precision=0, elem_id="draw-every")
        with gr.Accordion("the mask painted by hand (inpaint inside: drawn mask)", open=False):
            with gr.Row():
                mask_canvas = gr.Sketchpad(label="paint the region to redraw", type="numpy",
                                           canvas_size=(CANVAS, CANVAS), fixed_canvas=True,
                                           brush=gr.Brush(default_size=MASK_BRUSH, colors=[MASK_INK],
                                                          color_mode="fixed"), elem_id="draw-mask")
                with gr.Column(scale=0, min_width=160):
                    under = gr.Button("put the input under the mask", elem_id="draw-mask-under")
                    under_note = gr.Markdown("Paint over the region to redraw (the red counts where it covers half "
                                             "a pixel or more).", elem_id="draw-mask-note")
        engine = engine_fields("draw")
        with gr.Row():
            go = gr.Button("Edit", variant="primary", elem_id="draw-go")
            cancel_button(cancels, "Draw", "draw-cancel")
        with gr.Row():
            shown = gr.Image(label="input (and mask)", type="numpy", format="png", image_mode="L",
                             elem_id="draw-input")
            result = gr.Image(label="result", type="numpy", format="png", image_mode="L", elem_id="draw-result")
        strip = gr.Image(label="the steps", type="numpy", format="png", image_mode="L", elem_id="draw-strip")
        caption = gr.Markdown(elem_id="draw-caption")

        def on_edit(run, source, canvas, test_digit, mode, start, region, box, prompt, every, mask, model,
                    cfg_scale, stride, seed, sampler, eta, step, request: gr.Request, progress=gr.Progress()):
            """A drawn digit (`canvas`) or an MNIST test digit (`test_digit`) edited by SDEdit from `start` (a
            DDPM's i_start, a flow model's t_start) or inpainting (inside the `box` or the `mask` painted by hand)
            by `run`'s class-conditioned `model` (ddpm_class or flow_class)."""
            with work(cancels, request, "Draw") as flag:
                s = dr.EditSettings(mode, engine_of(cfg_scale, stride, seed, sampler, eta, step), prompt or "",
                                    start_of(start), box_of(box), integer("every", every),
                                    region_of(mode, region, mask))
                return edit_one(runs, runtime, run, model, source, canvas, test_digit, s, progress, flag)

        def on_under(run, source, canvas, test_digit):
            """The input as the mask canvas' background, its strokes cleared: paint over the digit itself."""
            try:
                picture_under = dr.under_the_mask(input_of(runs, run, source, canvas, test_digit)[0], CANVAS)
            except InputError as err:
                raise gr.Error(str(err)) from None
            what = "the drawing" if source == "canvas" else f"test digit {test_digit}"
            return ({"background": picture_under, "layers": [], "composite": picture_under},
                    f"The input ({what}) is under the mask: paint over the region to redraw.")

        model_choice = engine[0]  # the start field speaks the chosen model's time
        model_choice.change(start_field, model_choice, start, queue=False, show_progress="hidden",
                            api_visibility="private")
        go.click(on_edit, [run, source, canvas, index, mode, start, region, box, prompt, every, mask_canvas,
                           *engine], [shown, result, strip, caption], concurrency_limit=1, api_name="edit")
        under.click(on_under, [run, source, canvas, index], [mask_canvas, under_note], concurrency_limit=1,
                    api_name="under_the_mask")


def launch(runs: Runs, port: int | None = None, choices: list[str] | None = None,
           runtime: Runtime | None = None) -> tuple[gr.Blocks, str]:
    """Serve the page on 127.0.0.1:port (Gradio's first free port from 7860 when None) in a thread of its own;
    returns (demo, url). The run picker offers the workspace, HEAD and DVC's experiments unless given `choices`;
    models run in fp32 on the runs' device unless given a `runtime`."""
    choices = choices or [WORKSPACE, "HEAD", *known_experiments(runs.repo)]
    demo = build(runs, choices, runtime)
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name=HOST, server_port=port, theme=THEME, ssr_mode=False, share=False,
                            show_error=True, quiet=True, prevent_thread_lock=True,
                            footer_links=["settings"], pwa=False, mcp_server=False, inbrowser=False)
    return demo, url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: the first free from 7860)")
    parser.add_argument("--repo", default=".", help="the repository whose runs to read (default: this folder)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 where the CPU or GPU has it (as the stages choose), else fp32")
    args = parser.parse_args(argv)
    runtime = resolve(precision=args.precision)
    runs = Runs(args.repo, runtime.device)
    demo, url = launch(runs, args.port, runtime=runtime)
    print(f"difflab explorer: {url} (runs of {runs.repo}; Ctrl+C stops it)", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
