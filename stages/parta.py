"""Stages parta and parta_flow: every part A experiment (SPEC A0 - A1.9, and beyond the spec factorized) on one
model, one after another, each from the seed, writing reports/<stage>/<experiment>.png. Without an argument (stage
parta): the model params.yaml names (parta.model: the class DDPM or DeepFloyd IF), its prompts' conditions from the
embed_prompts stage. With mnist_flow (stage parta_flow): the class flow model (parta.mnist_flow), time from noise at 0
to the image at 1, Euler steps, SDEdit from start times t_start. The experiments are config/experiments.py's PART_A,
in its order: one stage per model, not one per experiment (docs/architecture.md says why). --only remakes the figures
it names alone, by hand (DVC runs them all).
"""

import sys
from pathlib import Path

from difflab.config.params import DATA, stage_params
from difflab.config.runtime import for_stage, seed_everything
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.parta.conditions import ConditionCache
from difflab.parta.deepfloyd import IFUnavailable
from difflab.parta.experiments import EXPERIMENTS, Context, run
from difflab.parta.images import reads_dataset
from difflab.parta.load import check_model_name, load_engine

FLOW = "mnist_flow"
OUT_DIR = {None: Path("reports/parta"), FLOW: Path("reports/parta_flow")}


def arguments(parser) -> None:
    parser.add_argument("model", nargs="?", choices=[FLOW],
                        help="the flow model's part A (default: the model parta.model names)")
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS),
                        metavar="EXPERIMENT", help=f"these experiments alone (default: all: {', '.join(EXPERIMENTS)})")


def keys(args) -> tuple[str, ...]:
    """The params a run reads: its model's whole part A section (dvc.yaml declares the same)."""
    section = (f"parta.{FLOW}",) if args.model == FLOW else ("parta.model", "parta.${parta.model}")
    return ("seed", "device", "precision", "channels_last", "threads", *DATA, *section)


def main() -> None:
    params, args = stage_params(__doc__, keys, extra_args=arguments)
    name = args.model or params.parta.model
    stage, out = "parta_flow" if args.model else "parta", OUT_DIR[args.model]
    try:
        with exit_on_input_error(stage):  # a prompt, view, image or value: one line, exit 2
            check_model_name(name)
            cfg = getattr(params.parta, name)
            rt = for_stage(params)
            if reads_dataset(cfg):  # a test digit among its images: the dataset on record first
                check_dataset(params.data)
            # the MNIST flow model's conditions are its one-hot classes; the others' come from embed_prompts' cache
            conds = None if args.model else ConditionCache("data/prompt_conditions.safetensors", name, rt.device)
            engine = load_engine(name, cfg, rt, conds, params.seed)
            out.mkdir(parents=True, exist_ok=True)
            for experiment in args.only:
                seed_everything(params.seed)  # each as if it ran alone
                path = run(experiment, Context(engine, cfg, out, Path(params.data.dir)))
                print(f"{experiment} on {name} -> {path}")
    except (IFUnavailable, FileNotFoundError) as e:  # weights or an earlier stage's output not there
        sys.exit(f"{stage}: {e}")


if __name__ == "__main__":
    with exit_on_input_error("parta"):  # a damaged input file or a bad value: one line, exit 2
        main()
