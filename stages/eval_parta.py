"""Stage eval_parta (and eval_parta_flow: `eval_parta.py mnist_flow`): the part A algorithms on an MNIST model,
judged over many seeds (eval.parta_seeds); parta.mnist is the class DDPM, parta.mnist_flow the class flow model.

- anagrams: success = the image through every view judged as that view's digit (the course's: upright and upside
  down); with three views also the success of each pair of views; and how often each view alone is right;
- hybrids: success = the low-pass view judged as the far digit and the image as the near one;
- frequency bands (factorized items of kind bands): success = the widest blur judged as the low digit, the
  narrower one as the mid digit and the image itself as the high digit;
- inpainting: how often the completed test digit keeps its label, per mask;
- SDEdit faithfulness: how often the edited test digit keeps its label, per start (i_start; a flow's t_start).
Settings (sampler, CFG scale, pairs, masks, starts, prompts) are those of parta.<model> (evaluation/parta.py's
reads: the knobs the measurements use, not the figures' images or display knobs).
"""

from pathlib import Path

from difflab.config.parta_models import JUDGED, PART_A_MODELS
from difflab.config.params import stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.parta import checked_settings, load_bench, measure, write_figures

def main() -> None:
    params, args = stage_params(
        __doc__, extra_args=lambda p: p.add_argument("model", nargs="?", default="mnist", choices=[m.section for m in JUDGED],
                                            help="which parta section: the class DDPM (mnist) or flow model"))
    rt = for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    name = args.model
    bench = load_bench(params, rt, name)
    with exit_on_input_error(f"eval_parta {name}"):
        views = checked_settings(bench)
    metrics, sdedit_rows = measure(bench, views, params.data.dir)
    model = PART_A_MODELS[name]
    write_figures(Path("reports", model.evaluation), metrics, sdedit_rows, bench.seeds, bench.engine.scale,
                  bench.start_knob, model.label)
    metrics.write(Path("reports", model.metrics))
    print(metrics.text(), end="")


if __name__ == "__main__":
    with exit_on_input_error("eval_parta"):  # a damaged input file or a bad value: one line, exit 2
        main()
