"""Stage download_mnist: fetch the four IDX files of the dataset data.dataset names (MNIST or Fashion-MNIST) into
data.dir, each verified against data.<dataset>.sha256, trying data.sources in turn."""

import sys

from difflab.config.params import stage_params
from difflab.data.mnist import DataError, dataset_config, fetch_mnist
from difflab.errors import exit_on_input_error


def main() -> None:
    params, _ = stage_params(__doc__)
    try:
        with exit_on_input_error("download_mnist"):  # a bad data section: one line, exit 2
            fetch_mnist(params.data.dir, dataset_config(params.data))
    except DataError as e:  # no source had the files: its message names each source and why it failed
        sys.exit(f"download_mnist: {e}")


if __name__ == "__main__":
    with exit_on_input_error("download_mnist"):  # a damaged input file or a bad value: one line, exit 2
        main()
