"""Stages parta@<experiment> and parta_flow@<experiment>: one part A experiment (SPEC A0 - A1.9, and beyond the spec
factorized) on one model, from the seed, writing reports/<stage>/<experiment>.png. Without --flow (stages parta@...):
the model params.yaml names (parta.model: the class DDPM or DeepFloyd IF), the prompts' conditions from the
embed_prompts stage's file for this experiment. With --flow (stages parta_flow@...): the class flow model
(parta.mnist_flow), time from noise at 0 to the image at 1, Euler steps, SDEdit from start times t_start, its
conditions the model's one-hot classes. The experiments and the sections each reads are config/experiments.py's
PART_A; dvc.yaml's foreach runs each as a stage of its own, so a changed knob reruns only the experiments that read it.
"""

import sys
from pathlib import Path

from difflab.config.experiments import BY_NAME
from difflab.config.parta_models import PART_A_MODELS
from difflab.config.params import stage_params
from difflab.config.runtime import for_stage, seed_everything
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.parta.conditions import ConditionCache, conditions_file
from difflab.parta.deepfloyd import IFUnavailable
from difflab.parta.experiments import Context, run
from difflab.parta.images import reads_dataset
from difflab.parta.load import load_engine


def arguments(parser) -> None:
    parser.add_argument("experiment", choices=list(BY_NAME), help="the experiment to run")
    parser.add_argument("--flow", action="store_true",
                        help="on the class flow model (parta.mnist_flow) instead of the model parta.model names")


def main() -> None:
    params, args = stage_params(__doc__, extra_args=arguments)
    name, experiment = "mnist_flow" if args.flow else params.parta.model, args.experiment
    stage = f"{PART_A_MODELS[name].stage}@{experiment}"
    out = Path("reports", PART_A_MODELS[name].stage)
    try:
        with exit_on_input_error(stage):  # a prompt, view, image or value: one line, exit 2
            cfg = getattr(params.parta, name)
            rt = for_stage(params)
            if reads_dataset(cfg):  # a test digit among its images: the dataset on record first
                check_dataset(params.data)
            # the MNIST flow model's conditions are its one-hot classes; the others' come from embed_prompts' files
            conds = None if args.flow else ConditionCache(conditions_file(experiment), name, rt.device)
            engine = load_engine(name, cfg, rt, conds, params.seed)
            out.mkdir(parents=True, exist_ok=True)
            seed_everything(params.seed)
            path = run(experiment, Context(engine, cfg, out, Path(params.data.dir)))
            print(f"{experiment} on {name} -> {path}")
    except (IFUnavailable, FileNotFoundError) as e:  # weights or an earlier stage's output not there
        sys.exit(f"{stage}: {e}")


if __name__ == "__main__":
    with exit_on_input_error("parta"):  # a damaged input file or a bad value: one line, exit 2
        main()
