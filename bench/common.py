"""What both benchmarks share: the --device / --threads options, and the two runtimes compared on each device:
the old path (fp32, contiguous, eager) and the fast path the stages take (precision, channels_last, compile: auto)."""

import argparse

import torch

from difflab.config import runtime
from difflab.config.params import ParamError


def add_device_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the CPU, and CUDA too where present (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch; 0: torch's default, one per core (default: %(default)s)")


def old_and_fast_paths(parser: argparse.ArgumentParser,
                       args: argparse.Namespace) -> list[tuple[runtime.Runtime, runtime.Runtime]]:
    """(old, fast) runtime per device asked for; every device checked before any work."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    try:
        return [(runtime.resolve(name, "fp32", "off", "off"), runtime.resolve(name, "auto", "auto", "auto"))
                for name in names]
    except ParamError as e:
        parser.error(str(e))
