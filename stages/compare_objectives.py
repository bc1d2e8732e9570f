"""Stage compare_objectives: DDPM against flow matching, the class-conditioned models of both, judged alike.

Each model samples eval.num_samples digits (0-9 in turn, the same seeded noise) at every step count in
objectives.num_steps (the DDPM on that many of its T timesteps, strided, each step adding noise of
objectives.ddpm_variance; flow matching with that many Euler steps; a count above T does not apply to the DDPM),
with its own CFG scale (<model>.guidance_scale), twice: after the last epoch of each, and at equal training epochs
(the latest epoch both models saved weights after). The judge scores each set: accuracy on the digits asked for,
Frechet distance to the test set. Which gives better digits per model call: accuracy.csv and fd.csv (one column per
model, for `dvc plots`), metrics.json and a figure.
"""

from pathlib import Path

from difflab.config.params import stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.comparisons import compare_objectives, objective_runs

OUT = Path("reports/objectives")


def main() -> None:
    params, _ = stage_params(__doc__)
    rt = for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    with exit_on_input_error("compare_objectives"):
        runs = objective_runs(params)
    metrics = compare_objectives(params, runs, rt, OUT)
    print(metrics.text(), end="")


if __name__ == "__main__":
    with exit_on_input_error("compare_objectives"):  # a damaged input file or a bad value: one line, exit 2
        main()
