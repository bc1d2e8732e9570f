"""Stage parta@<experiment>: one part A experiment (SPEC A0 - A1.9) on the model params.yaml names (parta.model),
writing reports/parta/<experiment>.png. Experiments: sample, forward, blur, one_step, iterative, sample_noise,
cfg, sdedit, sdedit_drawings, inpaint, translate, anagram, hybrid, and beyond the spec factorized (frequency bands,
grayscale / colour).
"""

import sys
from pathlib import Path

from difflab.config.experiments import BY_NAME
from difflab.config.params import DATA, stage_params
from difflab.config.runtime import for_stage, seed_everything
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.parta.conditions import ConditionCache
from difflab.parta.deepfloyd import IFUnavailable
from difflab.parta.experiments import EXPERIMENTS, Context, run
from difflab.parta.images import reads_dataset
from difflab.parta.load import check_model_name, load_engine

OUT_DIR = Path("reports/parta")


def main() -> None:
    params, args = stage_params(
        __doc__, lambda args: ("seed", "device", "precision", "channels_last", "threads", *DATA, "parta.model",
                               *("parta.${parta.model}." + s for s in BY_NAME[args.experiment].sections)),
        extra_args=lambda p: p.add_argument("experiment", choices=list(EXPERIMENTS), help="which experiment"))
    name = params.parta.model
    try:
        with exit_on_input_error(f"parta {args.experiment}"):  # a prompt, view, image or value: one line, exit 2
            check_model_name(name)
            cfg = getattr(params.parta, name)
            rt = for_stage(params)
            if reads_dataset(cfg):  # a test digit among its images: the dataset on record first
                check_dataset(params.data)
            seed_everything(params.seed)
            conds = ConditionCache("data/prompt_conditions.safetensors", name, rt.device)
            engine = load_engine(name, cfg, rt, conds, params.seed)
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path = run(args.experiment, Context(engine, cfg, OUT_DIR, Path(params.data.dir)))
    except (IFUnavailable, FileNotFoundError) as e:  # weights or an earlier stage's output not there
        sys.exit(f"parta {args.experiment}: {e}")
    print(f"{args.experiment} on {name} -> {path}")


if __name__ == "__main__":
    with exit_on_input_error("parta"):  # a damaged input file or a bad value: one line, exit 2
        main()
