"""The page's layout (Gradio Blocks): its tabs, their fields and buttons, each button wired to its handler
(handlers.py). The Sample tab is here; the tabs of part A's engine (Anagram, Bands, Draw) are in part_a_tabs.py.
The fields start at the params of the run the page opens on (defaults.py). Each button is also an endpoint of
Gradio's API, its parameters named in words: the handlers' parameter names below are the API's."""

import gradio as gr

from difflab.config.runtime import Runtime
from difflab.core.ddpm import FIXED_VARIANCES
from difflab.explore.clicks import cancel_button, work
from difflab.explore.defaults import page_defaults
from difflab.explore.fields import settings_of
from difflab.explore.handlers import film_at, sample_one
from difflab.explore.part_a_tabs import anagram_tab, bands_tab, draw_tab
from difflab.explore.runs import MODELS, Runs
from difflab.explore.sample import SAMPLERS
from difflab.explore.steps import Cancels

VERDICT_HEADERS = ["row", "asked", "judged", "confidence"]


def build(runs: Runs, choices: list[str], runtime: Runtime | None = None) -> gr.Blocks:
    """The page: the Sample tab (one or two runs side by side, from the same noise), and the Anagram, Bands and Draw
    tabs (part A's engine on the run's class-conditioned DDPM or flow model); `choices` are the runs the pickers
    offer, the first one picked, and the fields start at its params."""
    runtime = runtime or Runtime(runs.device, "fp32")
    cancels = Cancels()
    defaults = page_defaults(runs, choices[0])
    with gr.Blocks(title="difflab explorer", analytics_enabled=False) as demo:
        gr.Markdown("# difflab explorer\nAny run's models: the workspace, a git revision or a DVC experiment "
                    "(`dvc exp show`). A run made elsewhere needs `dvc pull` / `dvc exp pull` first.")
        sample_tab(runs, runtime, choices, cancels, defaults)
        anagram_tab(runs, runtime, choices, cancels, defaults)
        bands_tab(runs, runtime, choices, cancels, defaults)
        draw_tab(runs, runtime, choices, cancels, defaults)
    return demo


def sample_outputs() -> tuple:
    """The Sample tab's outputs: each run's grid, caption and verdicts side by side, and the film of the reverse
    process (its state, the frame slider, each run's picture at that frame and the frame's caption)."""
    with gr.Row():
        outs = []
        for side in ("a", "b"):
            with gr.Column():
                outs += [gr.Image(label=f"run {side.upper()}", type="numpy", format="png", image_mode="L",
                                  elem_id=f"image-{side}"),
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
    return outs, film, frame, frame_images, frame_caption


def sample_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels, defaults: dict) -> None:
    """A grid of digits from one run's model, or two runs' side by side from the same noise, with the judge's
    verdicts, and a slider over the frames of the reverse process."""
    with gr.Tab("Sample"):
        with gr.Row():
            run_a = gr.Dropdown(choices, value=choices[0], label="run", allow_custom_value=True, elem_id="run-a")
            run_b = gr.Dropdown(["", *choices], value="", label="compare with (optional second run)",
                                allow_custom_value=True, elem_id="run-b")
            model = gr.Dropdown(list(MODELS), value="ddpm_class", label="model", elem_id="model")
        with gr.Row():
            digits = gr.Textbox("0-9", label="digits of a row (e.g. 0-9, 3 5 7)", elem_id="digits")
            rows = gr.Number(defaults["rows"], label="rows", precision=0, elem_id="rows")
            scale = gr.Number(defaults["cfg_scale"], label="CFG scale (class models)", elem_id="scale")
            seed = gr.Number(defaults["seed"], label="seed", precision=0, elem_id="seed")
        with gr.Row():
            sampler = gr.Radio(list(SAMPLERS), value="DDIM", label="sampler (flow models: flow Euler)",
                               elem_id="sampler")
            steps = gr.Number(20, label="steps", precision=0, elem_id="steps")
            eta = gr.Number(defaults["eta"], label="DDIM eta (0 = deterministic)", elem_id="eta")
            variance = gr.Dropdown(list(FIXED_VARIANCES), value=defaults["variance"], label="DDPM step variance",
                                   elem_id="variance")
        with gr.Row():
            go = gr.Button("Sample", variant="primary", elem_id="sample")
            cancel_button(cancels, "Sample", "sample-cancel")
        outs, film, frame, frame_images, frame_caption = sample_outputs()

        # the handlers' parameter names are the API's (gradio_client's keywords): words, one per field
        def on_sample(run, compare_with, model, digits, rows, cfg_scale, steps, sampler, eta, variance, seed,
                      request: gr.Request, progress=gr.Progress()):
            """A grid of digits from `run`'s model (and from `compare_with`'s, from the same noise, if given), with
            the judge's verdicts and the reverse process' last frame."""
            with work(cancels, request, "Sample") as flag:
                s = settings_of(digits, rows, cfg_scale, steps, sampler, eta, variance, seed)
                first = sample_one(runs, runtime, run, model, s, progress, flag)
                second = (sample_one(runs, runtime, compare_with, model, s, progress, flag)
                          if compare_with and compare_with.strip() else (None, "", [], None))
            films = [first[3], second[3]]
            last = len(first[3].pictures) - 1
            return (*first[:3], *second[:3], films, gr.update(maximum=last, value=last), *film_at(films, last))

        go.click(on_sample, [run_a, run_b, model, digits, rows, scale, steps, sampler, eta, variance, seed],
                 [*outs, film, frame, *frame_images, frame_caption], concurrency_limit=1, api_name="sample")
        frame.input(film_at, [film, frame], [*frame_images, frame_caption], show_progress="hidden",
                    trigger_mode="always_last", api_name="frame")
