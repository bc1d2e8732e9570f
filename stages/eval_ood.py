"""Stage eval_ood: the trained denoiser on noise levels it was not trained for (SPEC B1, out-of-distribution).

For every sigma in denoiser.sigmas: test MSE and PSNR of the denoised digits beside those of the noisy input
(metrics for `dvc metrics`, a table for `dvc plots`), and a figure of a few digits at each sigma.
"""

from difflab.config import layout
from difflab.config.params import stage_params
from difflab.config.runtime import for_stage
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.denoisers import out_of_distribution


def main() -> None:
    params, _ = stage_params(__doc__)
    rt = for_stage(params)  # precision etc. checked against this device before any work
    check_dataset(params.data)  # the dataset on record, before any work
    metrics = out_of_distribution(params, rt)
    metrics.write(layout.model_paths("denoiser").reports / "ood.json")


if __name__ == "__main__":
    with exit_on_input_error("eval_ood"):  # a damaged input file or a bad value: one line, exit 2
        main()
