"""The explorer's page (Gradio Blocks) and its command line: pick a run (the workspace, a git revision or an
experiment), a model and the sampler's settings, and see the digits with the judge's verdict; a second run beside it
compares two experiments from the same noise. Served on 127.0.0.1 only, fully offline: no analytics, system fonts,
no server-side rendering, nothing fetched from outside.

    python -m difflab.explore [--port 7860] [--repo .]      # make explore
"""

import argparse
import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it reads this at import
import gradio as gr  # noqa: E402
import torch  # noqa: E402

from difflab.config.runtime import PRECISIONS, Runtime, resolve  # noqa: E402
from difflab.core.ddpm import FIXED_VARIANCES  # noqa: E402
from difflab.errors import InputError  # noqa: E402
from difflab.explore.runs import MODELS, WORKSPACE, RunError, Runs, known_experiments  # noqa: E402
from difflab.explore.sample import SAMPLERS, Settings, draw, parse_digits, picture, verdicts  # noqa: E402
from difflab.sampling.generate import steps_of  # noqa: E402

HOST = "127.0.0.1"
# the system's own fonts: the default theme's would be served locally, but a page that names none fetches none
THEME = gr.themes.Default(font=("ui-sans-serif", "system-ui", gr.themes.Font("sans-serif")),
                          font_mono=("ui-monospace", "Consolas", gr.themes.Font("monospace")))
VERDICT_HEADERS = ["row", "asked", "judged", "confidence"]


def number(name: str, value) -> float:
    """A number from a page field, or an InputError naming the field (an emptied field gives None)."""
    if value is None:
        raise InputError(f"{name} is empty; allowed: a number")
    return float(value)


def integer(name: str, value) -> int:
    """A whole number from a page field, or an InputError naming the field."""
    if number(name, value) != int(value):
        raise InputError(f"{name}={value!r}; allowed: a whole number")
    return int(value)


def settings_of(digits: str, rows, scale, steps, sampler: str, eta, variance: str, seed) -> Settings:
    """The page's fields as the sampler's settings (checked against the model by sample.check)."""
    return Settings(parse_digits(digits), integer("rows", rows), number("CFG scale", scale), integer("steps", steps),
                    sampler, number("eta", eta), variance, integer("seed", seed))


def describe(run: str, model: str, meta: dict, params: dict, s: Settings) -> str:
    """The caption of one grid: the run, its model and what it was trained with, the sampler's settings."""
    sampler = f"DDIM eta {s.eta:g}" if s.sampler == "DDIM" else (
        f"DDPM step, {s.variance}" if s.sampler == "DDPM step" else "flow Euler")
    knobs = ", ".join(f"{k} {v}" for k, v in (params.get(model) or {}).items())
    guided = f", CFG scale {s.guidance_scale:g}" if meta["conditioning"] == "class" else ""
    return (f"**{run}**: {MODELS[model]} (`{model}`, D={meta['hidden']}, epoch {meta.get('epoch', '?')}); "
            f"{sampler}, {s.num_steps} steps{guided}, seed {s.seed}.  \nTrained with: {knobs or 'params not found'}")


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


def sample_one(runs: Runs, runtime: Runtime, run: str, model: str, s: Settings, progress: gr.Progress):
    """One run's grid, caption and verdicts."""
    run = run.strip() or WORKSPACE
    unet, meta = runs.model(run, model)
    params = runs.params(run)
    total = steps_of(meta, s.num_steps) if 1 <= s.num_steps else 0
    progress((0, total), desc=f"{run}: sampling", unit="steps")
    x = draw(unet, meta, s, runtime, on_step=lambda i, _t, _x: progress((i + 1, total), desc=f"{run}: sampling",
                                                                         unit="steps"))
    ncols = len(s.digits)
    asked = list(s.digits) * s.rows if unet.conditioning == "class" else None
    summary, table = judged(runs, run, x, asked, ncols)
    return picture(x, ncols), describe(run, model, meta, params, s) + "  \n" + summary, table


def build(runs: Runs, choices: list[str], runtime: Runtime | None = None) -> gr.Blocks:
    """The page: the Sample tab (one or two runs side by side, from the same noise)."""
    runtime = runtime or Runtime(runs.device, "fp32")
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
            go = gr.Button("Sample", variant="primary", elem_id="sample")
            with gr.Row():
                outs = []
                for side in ("a", "b"):
                    with gr.Column():
                        outs += [gr.Image(label=f"run {side.upper()}", type="numpy", format="png",
                                          image_mode="L", elem_id=f"image-{side}"),
                                 gr.Markdown(elem_id=f"caption-{side}"),
                                 gr.Dataframe(headers=VERDICT_HEADERS, label="the judge on each digit",
                                              elem_id=f"verdicts-{side}")]

            def on_sample(a, b, m, d, r, sc, st, sa, e, v, se, progress=gr.Progress()):
                try:
                    s = settings_of(d, r, sc, st, sa, e, v, se)
                    first = sample_one(runs, runtime, a, m, s, progress)
                    second = sample_one(runs, runtime, b, m, s, progress) if b and b.strip() else (None, "", [])
                except InputError as err:
                    raise gr.Error(str(err)) from None
                return (*first, *second)

            go.click(on_sample, [run_a, run_b, model, digits, rows, scale, steps, sampler, eta, variance, seed],
                     outs, concurrency_limit=1)
    return demo


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
