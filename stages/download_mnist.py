"""Stage download_mnist: fetch the four MNIST IDX files into data.dir, each verified against data.sha256."""

import sys

from difflab.data import DataError, fetch_mnist
from difflab.params import stage_params


def main() -> None:
    params, _ = stage_params(__doc__, ("data",))
    try:
        fetch_mnist(params["data"]["dir"], params["data"])
    except DataError as e:
        sys.exit(f"download_mnist: {e}")


if __name__ == "__main__":
    main()
