"""The explorer's command line: serve its page (page.py) and say where. Pick a run (the workspace, a git revision or
an experiment), a model and the sampler's settings, and see the digits with the judge's verdict; a second run beside
it compares two experiments from the same noise, and a slider runs over the steps of its reverse process. The
Anagram tab makes visual anagrams with part A's engine and shows them through each view, the Bands tab images whose
frequency bands read as different digits, through each band; the Draw tab edits a drawn (or MNIST test) digit by
SDEdit or inpainting. Every tab's Cancel stops its work after the step under way. Served on 127.0.0.1 only, fully
offline: no analytics, system fonts, no server-side rendering, nothing fetched from outside. Each tab's button is
also an endpoint of Gradio's API, named, with its parameters named in words, for gradio_client: /sample, /frame,
/anagram, /bands, /edit and /under_the_mask (the Cancel buttons are the page's alone).

    python -m difflab.explore [--port 7860] [--repo .]      # make explore
"""

import argparse

import gradio as gr

from difflab.config.runtime import PRECISIONS, Runtime, resolve
from difflab.explore.page import build
from difflab.explore.runs import WORKSPACE, Runs
from difflab.reporting.compare_page import known_experiments

HOST = "127.0.0.1"
# the system's own fonts: the default theme's would be served locally, but a page that names none fetches none
THEME = gr.themes.Default(font=("ui-sans-serif", "system-ui", gr.themes.Font("sans-serif")),
                          font_mono=("ui-monospace", "Consolas", gr.themes.Font("monospace")))


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
