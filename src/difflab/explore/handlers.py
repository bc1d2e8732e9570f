"""What each tab's button does, once its fields are read as settings (fields.py): load the run's model, make the
images through the tab's work (sample.py, anagram.py, bands.py, draw.py), and return what the page shows: the
picture, its caption (captions.py) and the judge's verdicts. Progress goes to `progress` step by step; once `cancel`
is set the work stops after the step under way (steps.Cancelled)."""

import itertools
import math
import threading

import gradio as gr
import torch

from difflab.config.runtime import Runtime
from difflab.explore import anagram, bands, draw, sample
from difflab.explore.captions import describe, describe_anagram, describe_bands, describe_edit, describe_frame
from difflab.explore.defaults import of_run
from difflab.explore.fields import canvas_of
from difflab.explore.runs import WORKSPACE, RunError, Runs
from difflab.explore.steps import Frames, picture
from difflab.models.judge import Judge
from difflab.parta.load import part_a_model
from difflab.reporting.wording import wording
from difflab.sampling.generate import steps_of


def judge_of(runs: Runs, run: str) -> tuple[Judge | None, str]:
    """The run's judge, or None and why there is none (also a warning on the page: the images show all the same)."""
    try:
        return runs.judge(run), ""
    except RunError as e:
        gr.Warning(f"No verdicts: {e}")
        return None, str(e)


def judged(runs: Runs, run: str, x: torch.Tensor, asked: list[int] | None, ncols: int) -> tuple[str, list[list]]:
    """The judge's summary line and its verdict on each digit (row, asked, judged, confidence)."""
    judge, why = judge_of(runs, run)
    if judge is None:
        return f"No judge in this run: {why}", []
    labels, confidence = sample.verdicts(judge, x)
    table = [[i // ncols + 1, "-" if asked is None else asked[i], label, round(c, 3)]
             for i, (label, c) in enumerate(zip(labels, confidence))]
    mean = sum(confidence) / len(confidence)
    if asked is None:
        return f"The judge's labels (mean confidence {mean:.2f}).", table
    right = sum(a == label for a, label in zip(asked, labels))
    return f"Judged as asked: **{right} / {len(labels)}** (mean confidence {mean:.2f}).", table


def judged_views(runs: Runs, run: str, shown: torch.Tensor, names: list[str], digits: tuple[int, ...], count: int,
                 what: str) -> tuple[str, list[list]]:
    """The judge on each sample through each view (row k of `shown`: view k of every sample, asked to read as
    digit k): how many samples read as asked through every view, and the table (view, sample, asked, judged,
    confidence). `what` names the views on the page (view, band)."""
    judge, why = judge_of(runs, run)
    if judge is None:
        return f"No judge in this run: {why}", []
    labels, confidence = sample.verdicts(judge, shown)
    asked = [d for d in digits for _ in range(count)]
    table = [[names[k // count], k % count + 1, asked[k], label, round(c, 3)]
             for k, (label, c) in enumerate(zip(labels, confidence))]
    right = torch.tensor([a == label for a, label in zip(asked, labels)]).reshape(len(names), count)
    return f"Every {what} judged as asked: **{int(right.all(0).sum())} / {count}** samples.", table


def batch_size_of(params: dict, run: str) -> int | None:
    """The run's sample_batch_size (params.yaml), the batch size its sample stages draw with; None (all at once)
    where its params have none."""
    size = params.get("sample_batch_size")
    return None if size is None else of_run(run, "sample_batch_size", size)


def sample_one(runs: Runs, runtime: Runtime, run: str, model: str, s: sample.Settings, progress: gr.Progress,
               cancel: threading.Event | None = None):
    """One run's grid, caption and verdicts, and the film of its reverse process (Frames). The images go through
    the model the run's sample_batch_size at a time (all at once where its params have none), as its sample stages
    draw them: the same settings give the stage's grid exactly."""
    run = run.strip() or WORKSPACE
    unet, meta = runs.model(run, model)
    params = runs.params(run)
    batch_size = batch_size_of(params, run)
    sample.check(s, meta)  # before the steps are counted
    n = len(s.digits) * s.rows
    total = steps_of(meta, s.num_steps) * math.ceil(n / (batch_size or n))
    ncols = len(s.digits)
    frames = Frames(ncols)
    x = sample.draw(unet, meta, s, runtime, batch_size, frames=frames, cancel=cancel,
                    on_step=stepping(progress, total, f"{run}: sampling"))
    asked = list(s.digits) * s.rows if unet.conditioning == "class" else None
    summary, table = judged(runs, run, x, asked, ncols)
    return picture(x, ncols), describe(run, model, meta, params, s, batch_size) + "  \n" + summary, table, frames


def film_at(film: list[Frames | None] | None, frame) -> tuple:
    """Frame `frame` (0 = the noise) of the reverse process for each run (None where there is no run or no film
    yet) and its caption."""
    shown = [f for f in film or [] if f is not None]
    if not shown:
        return None, None, "Sample first: the reverse process of the grid shows here, step by step."
    k = min(max(int(frame or 0), 0), len(shown[0].pictures) - 1)
    pictures = [f.pictures[k] if f is not None else None for f in film]
    return (*pictures, describe_frame(k, len(shown[0].pictures), shown[0].labels[k], shown[0].every))


def stepping(progress: gr.Progress, total: int, desc: str):
    """The per-step callback that moves the page's progress bar over `total` steps (shown at 0 first), counting
    every call: a grid drawn in batches steps through each batch in turn."""
    progress((0, total), desc=desc, unit="steps")
    done = itertools.count(1)
    return lambda *_: progress((next(done), total), desc=desc, unit="steps")


def part_a(runs: Runs, runtime: Runtime, run: str, name: str):
    """The run's name and its class-conditioned model `name` (the DDPM or the flow model, as fields.engine_of
    checked) behind part A's interface."""
    run = run.strip() or WORKSPACE
    unet, meta = runs.model(run, name)
    return run, part_a_model(unet, meta, runtime)


def anagram_one(runs: Runs, runtime: Runtime, run: str, name: str, s: anagram.AnagramSettings,
                progress: gr.Progress, cancel: threading.Event | None = None):
    """The anagrams by model `name` through each view (row k: view k of every sample), the caption and the judge's
    verdicts."""
    run, model = part_a(runs, runtime, run, name)
    engine = anagram.check(model, s)
    x = anagram.make(model, s, cancel=cancel, on_step=stepping(progress, len(engine.grid), f"{run}: anagram"))
    shown = anagram.seen(x, s.views)
    summary, table = judged_views(runs, run, shown, list(s.views), s.digits, s.count, "view")
    return picture(shown, s.count), describe_anagram(run, name, s, engine) + "  \n" + summary, table


def bands_one(runs: Runs, runtime: Runtime, run: str, name: str, s: bands.BandSettings, progress: gr.Progress,
              cancel: threading.Event | None = None):
    """The samples by model `name` through each band (row k: band k of every sample), the caption and the judge's
    verdicts."""
    run, model = part_a(runs, runtime, run, name)
    engine = bands.check(model, s)
    x = bands.make(model, s, cancel=cancel, on_step=stepping(progress, len(engine.grid), f"{run}: bands"))
    names = bands.band_names(s.blurs)
    shown = bands.seen(x, s.blurs)
    summary, table = judged_views(runs, run, shown, names, s.digits, s.count, "band")
    return picture(shown, s.count), describe_bands(run, name, s, engine, names) + "  \n" + summary, table


def input_of(runs: Runs, run: str, source: str, canvas, index) -> tuple[torch.Tensor, int | None]:
    """The Draw tab's input (1, 1, 28, 28): the drawing on the canvas or an MNIST test digit, and the test digit's
    label (None for a drawing)."""
    if source == "canvas":
        return draw.from_drawing(canvas_of(canvas)), None
    return draw.mnist_digit(runs, run.strip() or WORKSPACE, index)


def edit_one(runs: Runs, runtime: Runtime, run: str, name: str, source: str, canvas, index, s: draw.EditSettings,
             progress: gr.Progress, cancel: threading.Event | None = None):
    """The input (and for inpainting its mask), its edit by model `name`, the strip of steps, and the caption."""
    run, model = part_a(runs, runtime, run, name)
    engine, mask, (ts, i_start) = draw.check(model, s)
    x0, truth = input_of(runs, run, source, canvas, index)
    out, frames, labels = draw.edit(model, x0, s, cancel=cancel, on_step=lambda i, total: progress(
        (i + 1, total), desc=f"{run}: {s.mode}", unit="steps"))
    inputs = torch.cat([x0, mask.cpu()]) if mask is not None else x0
    start = wording(model.objective).start_title(s.start, ts[i_start]) if mask is None else None
    caption = describe_edit(run, name, s, engine, mask, start, truth)
    judge, _ = judge_of(runs, run)
    if judge is not None:
        (before, after), (c0, c1) = sample.verdicts(judge, torch.cat([x0.to(out.device), out]))
        caption += f"  \nThe judge: the input is a {before} ({c0:.2f}), the result a {after} ({c1:.2f})."
    strip = picture(torch.cat(frames), len(frames)) if frames else None
    return picture(inputs, len(inputs)), picture(out, 1), strip, caption + (
        "  \nStrip: " + ", ".join(labels) if labels else "")
