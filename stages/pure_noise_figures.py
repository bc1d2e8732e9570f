"""Stage pure_noise_figures: what the denoiser trained on pure noise (stage train_pure_noise) draws: its outputs for
pure_noise.num_digits fresh noise images after pure_noise.snapshot_epoch and after the last epoch, beside the mean
of the digits it trained on, and how far the outputs lie from that mean (reports/pure_noise/metrics.json).

The input z ~ N(0, I) says nothing about which digit x it was paired with, so the L2 loss is minimised by one
image for every z: the mean training digit E[x]. The figure shows the model getting there.
"""

from difflab.config import layout
from difflab.config.params import stage_params
from difflab.config.runtime import use_threads
from difflab.data.mnist import check_dataset
from difflab.errors import exit_on_input_error
from difflab.evaluation.denoisers import pure_noise_outputs


def main() -> None:
    params, _ = stage_params(__doc__)
    use_threads(params.threads)
    check_dataset(params.data)  # the dataset on record, before any work
    metrics = pure_noise_outputs(params)
    metrics.write(layout.model_paths("pure_noise").reports / "metrics.json")
    print(metrics.text(), end="")


if __name__ == "__main__":
    with exit_on_input_error("pure_noise_figures"):  # a damaged input file or a bad value: one line, exit 2
        main()
