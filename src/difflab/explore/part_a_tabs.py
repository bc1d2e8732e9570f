"""The layout of the tabs that run part A's engine on the run's class-conditioned DDPM or flow model: Anagram,
Bands and Draw, each with the engine's fields (engine_fields), a Cancel, and its button wired to its handler
(handlers.py) as an endpoint of Gradio's API, its parameters named in words."""

import gradio as gr

from difflab.config.runtime import Runtime
from difflab.core.objectives import of_section
from difflab.core.views import VIEWS
from difflab.errors import InputError
from difflab.explore.anagram import PART_A_MODEL, PART_A_MODELS, AnagramSettings
from difflab.explore.bands import BandSettings
from difflab.explore.clicks import cancel_button, work
from difflab.explore.draw import MODES, EditSettings, under_the_mask
from difflab.explore.defaults import PART_A_SAMPLERS
from difflab.explore.fields import REGIONS, blurs_of, box_of, engine_of, region_of, start_of
from difflab.explore.handlers import anagram_one, bands_one, edit_one, input_of
from difflab.explore.runs import Runs
from difflab.explore.sample import parse_digits
from difflab.explore.steps import Cancels

ANAGRAM_HEADERS = ["view", "sample", "asked", "judged", "confidence"]
BAND_HEADERS = ["band", "sample", "asked", "judged", "confidence"]
# The Draw tab's SDEdit start field by the objective's start_knob (also the page's first value, defaults.KNOBS, it
# starts at): a DDPM's i_start into its strided timesteps, a flow model's t_start, any time in [0, 1)
SDEDIT_START = {"i_start": "SDEdit i_start (0 = pure noise)",
                "t_start": "SDEdit t_start (0 = pure noise, 1 = the input; any time in [0, 1))"}
ENGINE_KNOBS = ("stride", "sampler", "ddim_eta", "step")  # the knobs of engine_fields' objective-specific fields
CANVAS = 280  # the drawing canvas' side: ten times MNIST's, so a brush of BRUSH pixels draws MNIST's stroke width
BRUSH = 22
MASK_BRUSH = 40  # the mask canvas' brush: four MNIST pixels wide, to paint a region rather than a stroke
MASK_INK = "#ff3b30"  # red over the grey digit; only where it is painted counts, not its colour


def engine_fields(prefix: str, defaults: dict) -> list:
    """The model part A runs on (the run's class DDPM or class flow model) and its engine's fields, starting where
    the run's part A does (defaults.py): the CFG scale and seed; a DDPM's stride, sampler and DDIM eta; a flow
    model's Euler step. Only the chosen model's fields show; the others keep their values and go unread."""
    with gr.Row():
        model = gr.Radio(list(PART_A_MODELS), value=PART_A_MODEL, label="model", elem_id=f"{prefix}-model")
        scale = gr.Number(defaults["part_a_cfg_scale"], label="CFG scale", elem_id=f"{prefix}-scale")
        stride = gr.Number(defaults["stride"], label="stride (timesteps T-1 .. 0 every stride-th)", precision=0,
                           elem_id=f"{prefix}-stride")
        seed = gr.Number(defaults["seed"], label="seed", precision=0, elem_id=f"{prefix}-seed")
        sampler = gr.Radio(list(PART_A_SAMPLERS), value=defaults["part_a_sampler"], label="sampler",
                           elem_id=f"{prefix}-sampler")
        eta = gr.Number(defaults["part_a_eta"], label="DDIM eta", elem_id=f"{prefix}-eta")
        step = gr.Number(defaults["step"], label="Euler step h (1 / the number of steps)", visible=False,
                         elem_id=f"{prefix}-step")

    def on_model(name: str):
        return [gr.update(visible=knob in objective(name).process_knobs) for knob in ENGINE_KNOBS]

    model.change(on_model, model, [stride, sampler, eta, step], queue=False, show_progress="hidden",
                 api_visibility="private")
    return [model, scale, stride, seed, sampler, eta, step]


def anagram_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels, defaults: dict) -> None:
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
        engine = engine_fields("anagram", defaults)
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
                s = AnagramSettings(tuple(int(d) for d, _ in pairs), tuple(v for _, v in pairs),
                                    engine_of(model, cfg_scale, stride, seed, sampler, eta, step), samples)
                return anagram_one(runs, runtime, run, model, s, progress, flag)

        go.click(on_anagram, [run, digits[0], views[0], digits[1], views[1], digits[2], views[2], count, *engine],
                 [image, caption, table], concurrency_limit=1, api_name="anagram")


def bands_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels, defaults: dict) -> None:
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
        engine = engine_fields("bands", defaults)
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
                e = engine_of(model, cfg_scale, stride, seed, sampler, eta, step)
                s = BandSettings(parse_digits(digits), blurs_of(blurs, model), e, samples)
                return bands_one(runs, runtime, run, model, s, progress, flag)

        go.click(on_bands, [run, digits, blurs, count, *engine], [image, caption, table], concurrency_limit=1,
                 api_name="bands")


def draw_tab(runs: Runs, runtime: Runtime, choices: list[str], cancels: Cancels, defaults: dict) -> None:
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
            mode = gr.Radio(list(MODES), value="SDEdit", label="edit", elem_id="draw-mode")
            start = gr.Number(elem_id="draw-start", **start_field(PART_A_MODEL, defaults))
            region = gr.Radio(list(REGIONS), value="box", label="inpaint inside", elem_id="draw-region")
            box = gr.Textbox("0, 0.5, 0, 1", label="inpaint box: top, bottom, left, right (fractions)",
                             elem_id="draw-box")
            prompt = gr.Dropdown(["", *map(str, range(10))], value="", label="toward digit ('' = none)",
                                 elem_id="draw-prompt")
            every = gr.Number(defaults["every"], label="strip: every k-th step (0 = none)", precision=0,
                              elem_id="draw-every")
        mask_canvas = mask_fields(runs, [run, source, canvas, index])
        engine = engine_fields("draw", defaults)
        with gr.Row():
            go = gr.Button("Edit", variant="primary", elem_id="draw-go")
            cancel_button(cancels, "Draw", "draw-cancel")
        outputs = edit_outputs()

        def on_edit(run, source, canvas, test_digit, mode, start, region, box, prompt, every, mask, model,
                    cfg_scale, stride, seed, sampler, eta, step, request: gr.Request, progress=gr.Progress()):
            """A drawn digit (`canvas`) or an MNIST test digit (`test_digit`) edited by SDEdit from `start` (a
            DDPM's i_start, a flow model's t_start) or inpainting (inside the `box` or the `mask` painted by hand)
            by `run`'s class-conditioned `model` (ddpm_class or flow_class)."""
            with work(cancels, request, "Draw") as flag:
                s = EditSettings(mode, engine_of(model, cfg_scale, stride, seed, sampler, eta, step), prompt or "",
                                 start_of(start, model), box_of(box, model), every, region_of(mode, region, mask))
                return edit_one(runs, runtime, run, model, source, canvas, test_digit, s, progress, flag)

        model_choice = engine[0]  # the start field speaks the chosen model's time
        model_choice.change(lambda name: gr.update(**start_field(name, defaults)), model_choice, start, queue=False,
                            show_progress="hidden", api_visibility="private")
        go.click(on_edit, [run, source, canvas, index, mode, start, region, box, prompt, every, mask_canvas,
                           *engine], outputs, concurrency_limit=1, api_name="edit")


def mask_fields(runs: Runs, inputs: list) -> gr.Sketchpad:
    """The Draw tab's mask painted by hand: its canvas, and the button that puts the input (`inputs`: the run, the
    source, the canvas and the test digit's index) under it."""
    with gr.Accordion("the mask painted by hand (inpaint inside: drawn mask)", open=False):
        with gr.Row():
            mask_canvas = gr.Sketchpad(label="paint the region to redraw", type="numpy", canvas_size=(CANVAS, CANVAS),
                                       fixed_canvas=True, brush=gr.Brush(default_size=MASK_BRUSH, colors=[MASK_INK],
                                                                         color_mode="fixed"), elem_id="draw-mask")
            with gr.Column(scale=0, min_width=160):
                under = gr.Button("put the input under the mask", elem_id="draw-mask-under")
                under_note = gr.Markdown("Paint over the region to redraw (the red counts where it covers half a "
                                         "pixel or more).", elem_id="draw-mask-note")

    def on_under(run, source, canvas, test_digit):
        """The input as the mask canvas' background, its strokes cleared: paint over the digit itself."""
        try:
            picture_under = under_the_mask(input_of(runs, run, source, canvas, test_digit)[0], CANVAS)
        except InputError as err:
            raise gr.Error(str(err)) from None
        what = "the drawing" if source == "canvas" else f"test digit {test_digit}"
        return ({"background": picture_under, "layers": [], "composite": picture_under},
                f"The input ({what}) is under the mask: paint over the region to redraw.")

    under.click(on_under, inputs, [mask_canvas, under_note], concurrency_limit=1, api_name="under_the_mask")
    return mask_canvas


def edit_outputs() -> list:
    """The Draw tab's outputs: the input (and mask), the result, the strip of steps and the caption."""
    with gr.Row():
        shown = gr.Image(label="input (and mask)", type="numpy", format="png", image_mode="L", elem_id="draw-input")
        result = gr.Image(label="result", type="numpy", format="png", image_mode="L", elem_id="draw-result")
    strip = gr.Image(label="the steps", type="numpy", format="png", image_mode="L", elem_id="draw-strip")
    return [shown, result, strip, gr.Markdown(elem_id="draw-caption")]


def objective(name: str):
    """The objective of part A's model `name` (the default model's for a name not among them: the handler says so)."""
    return of_section(name if name in PART_A_MODELS else PART_A_MODEL)


def start_field(name: str, defaults: dict) -> dict:
    """The Draw tab's SDEdit start field as model `name` reads it (SDEDIT_START): its first value and label."""
    knob = objective(name).start_knob
    return {"value": defaults[knob], "label": SDEDIT_START[knob]}
