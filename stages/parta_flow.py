"""Stage parta_flow: every part A experiment (SPEC A0 - A1.9, and factorized) on the class flow model
(params.yaml parta.mnist_flow), as the course's Fall 2026 part A runs them on a flow model: time from noise at 0
to the image at 1, Euler steps of common.step, SDEdit and iterative denoising from start times t_start. Writes
reports/parta_flow/<experiment>.png. One stage for all fourteen: each takes a second or two on a CPU, and the
conditions are one-hot class vectors made here (no embed_prompts stage).
"""

import sys
from pathlib import Path

from difflab.config.params import DATA, stage_params
from difflab.config.runtime import for_stage, seed_everything
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.parta.experiments import EXPERIMENTS, Context, run
from difflab.parta.images import reads_dataset
from difflab.parta.load import load_engine

OUT_DIR = Path("reports/parta_flow")


def main() -> None:
    params, _ = stage_params(__doc__, ("seed", "device", "precision", "channels_last", "threads", *DATA,
                                       "parta.mnist_flow"))
    cfg = params.parta.mnist_flow
    try:
        with exit_on_input_error("parta_flow"):  # a prompt, view, image or value: one line, exit 2
            rt = for_stage(params)
            if reads_dataset(cfg):  # a test digit among its images: the dataset on record first
                check_dataset(params.data)
            seed_everything(params.seed)
            engine = load_engine("mnist_flow", cfg, rt, seed=params.seed)
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            for name in EXPERIMENTS:
                print(f"{name} on the flow model -> {run(name, Context(engine, cfg, OUT_DIR, Path(params.data.dir)))}")
    except FileNotFoundError as e:  # the flow model or the data not there
        sys.exit(f"parta_flow: {e}")


if __name__ == "__main__":
    with exit_on_input_error("parta_flow"):  # a damaged input file or a bad value: one line, exit 2
        main()
