"""Stage eval_parta: the part A algorithms on the MNIST model, judged over many seeds (eval.parta_seeds).

- anagrams: success = the image through every view judged as that view's digit (the course's: upright and upside
  down); with three views also the success of each pair of views; and how often each view alone is right;
- hybrids: success = the low-pass view judged as the far digit and the image as the near one;
- frequency bands (factorized items of kind bands): success = the widest blur judged as the low digit, the
  narrower one as the mid digit and the image itself as the high digit;
- inpainting: how often the completed test digit keeps its label, per mask;
- SDEdit faithfulness: how often the edited test digit keeps its label, per i_start (a curve).
Settings (stride, CFG scale, pairs, masks, i_start, prompts) are those of parta.mnist.
"""

import json
from pathlib import Path

from difflab.config.params import SAMPLING, stage_params
from difflab.config.runtime import for_stage
from difflab.errors import exit_on_input_error
from difflab.evaluation.parta import checked_settings, load_bench, measure, write_figures

OUT = Path("reports/eval_parta")


def main() -> None:
    params, _ = stage_params(__doc__, (*SAMPLING, "data.dir", "eval.parta_seeds", "parta.mnist"))
    bench = load_bench(params, for_stage(params))
    with exit_on_input_error("eval_parta"):
        views = checked_settings(bench)
    metrics, sdedit_rows = measure(bench, views, params.data.dir)
    write_figures(OUT, metrics, sdedit_rows, bench.seeds, bench.scale)
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
