"""Sampling speed of the class-conditioned course UNet: images per second through all T = 300 denoising steps of
class-conditioned sampling with classifier-free guidance (difflab.sampling.generate.generate: the conditional and the
unconditional estimate in one batched call per step), the old path (fp32, contiguous memory) against the fast path
the sampling stages take now (precision and channels_last "auto": bf16 autocast where the device computes it
natively, channels-last where runtime.py picks it; sampling is not compiled).

    python bench/sample.py                                     # D = 16, 32, 128 on the CPU (and CUDA if present)
    python bench/sample.py --device cuda --steps 300           # every step timed, nothing extrapolated
    python bench/sample.py --hidden 16 --num 20 --steps 2      # a smoke run

The UNet is randomly initialised (speed does not depend on the weights); meta = T 300, betas 1e-4 .. 0.02; CFG
scale 3; digits 0..9 in turn. Timing:
  --steps k < 300: generate() runs --warmup untimed steps, then again k timed ones, on ONE batch of
      min(--num, --batch-size) images, and is stopped there; img/s = that batch / (300 x the mean time of a step),
      i.e. EXTRAPOLATED from k of the 300 steps (every step costs the same: one UNet call on 2 x batch images).
  --steps 300 (or more): all --num images through all 300 steps, --batch-size at a time, timed end to end after
      --warmup untimed steps; nothing extrapolated.
CUDA is synchronised around the timed part.

Never run as a test: timings depend on the machine. Report them with the machine (printed first) they came from.
"""

import argparse
import time

import torch
from common import add_device_args, old_and_fast_paths

from difflab.config import runtime
from difflab.core.noise import image_generators, randn
from difflab.models.unet import UNet
from difflab.sampling.generate import generate

T = 300
META = {"num_timesteps": T, "beta_start": 1e-4, "beta_end": 0.02}


class Stop(Exception):
    """Raised from on_step to end sampling after the steps that are timed."""


def fast_path_name(rt: runtime.Runtime, hidden: int) -> str:
    return f"{rt.precision}, {'channels_last' if rt.use_channels_last(hidden) else 'contiguous'}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_steps(unet: UNet, rt: runtime.Runtime, num: int, batch_size: int, steps: int | None) -> float:
    """Seconds generate() takes for `num` images, stopped after `steps` denoising steps of the first batch
    (None: all of them)."""
    gens = image_generators(0, num, rt.device)  # one per image, as the stages sample
    x_T = randn((num, 1, 28, 28), gens, rt.device)
    digits = [i % 10 for i in range(num)]

    def stop_after(i: int, _t: int, _x: torch.Tensor) -> None:
        if steps is not None and i + 1 == steps:
            raise Stop

    sync(rt.device)
    start = time.perf_counter()
    try:
        out = generate(unet, META, x_T, gens, digits, 3.0, on_step=stop_after, runtime=rt, batch_size=batch_size)
        if not torch.isfinite(out).all():
            raise RuntimeError(f"non-finite samples on {rt.summary()}")
    except Stop:
        pass
    sync(rt.device)
    return time.perf_counter() - start


def images_per_second(rt: runtime.Runtime, hidden: int, num: int, batch_size: int, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    unet = UNet(hidden, "class")  # a fresh one per path: generate() prepares (moves, re-formats) it in place
    if steps >= T:
        if warmup:
            run_steps(unet, rt, min(num, batch_size), batch_size, warmup)
        return num / run_steps(unet, rt, num, batch_size, None)
    batch = min(num, batch_size)
    if warmup:
        run_steps(unet, rt, batch, batch, warmup)
    return batch / (run_steps(unet, rt, batch, batch, steps) / steps * T)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 32, 128],
                        help="UNet widths D (default: %(default)s)")
    parser.add_argument("--num", type=int, default=1000, help="images to sample (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="images per model call, doubled by CFG (default: %(default)s, as sample_batch_size)")
    parser.add_argument("--steps", type=int, default=10,
                        help=f"time only the first k of the {T} steps and extrapolate; >= {T}: time all "
                             "(default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed denoising steps first (default: %(default)s)")
    add_device_args(parser)
    args = parser.parse_args()
    if min(args.num, args.batch_size, args.steps) < 1 or args.warmup < 0:
        parser.error("--num, --batch-size and --steps must be >= 1, --warmup >= 0")
    paths = old_and_fast_paths(parser, args)

    if args.steps >= T:
        how = f"all {T} steps timed for {args.num} images, {args.batch_size} per call (x2 for CFG)"
    else:
        batch = min(args.num, args.batch_size)
        how = (f"{args.steps} of {T} steps timed on a batch of {batch} (x2 for CFG), EXTRAPOLATED to all {T} "
               f"steps")
    print(f"torch {torch.__version__}; CFG sampling, T = {T}; {how}; {args.warmup} warm-up steps")
    for old, fast in paths:
        print(f"\n{runtime.describe(old.device)}\n")
        print(f"| D | fp32 eager img/s | fast path img/s | fast path | ratio | s per {args.num} digits, fast |")
        print("|---:|---:|---:|---|---:|---:|", flush=True)
        for hidden in args.hidden:
            r_old = images_per_second(old, hidden, args.num, args.batch_size, args.steps, args.warmup)
            r_fast = images_per_second(fast, hidden, args.num, args.batch_size, args.steps, args.warmup)
            print(f"| {hidden} | {r_old:,.1f} | {r_fast:,.1f} | {fast_path_name(fast, hidden)} | {r_fast / r_old:.2f}x "
                  f"| {args.num / r_fast:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
