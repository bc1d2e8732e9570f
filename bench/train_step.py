"""Training speed of the class-conditioned course UNet: images per second through one optimiser step, the old path
(fp32, eager, contiguous memory, classic Adam) against the fast path the training stages take now (precision,
channels_last and compile all "auto": bf16 autocast where the device computes it natively, channels-last where
runtime.py picks it; on CUDA also torch.compile with CUDA graphs and fused Adam, as difflab.training.loop.fit does).

    python bench/train_step.py                                  # D = 16, 32, 128 on the CPU (and CUDA if present)
    python bench/train_step.py --hidden 128 --device cuda --steps 50
    python bench/train_step.py --hidden 16 --steps 2 --warmup 1  # a smoke run

Each step is the training step of fit(): the loss of the class-conditioned DDPM (ddpm_loss(alphas, "class", 0.1),
T = 300, under the runtime's autocast), zero_grad, backward, Adam step, on a fixed batch of --batch random images.
--warmup steps (which also compile, on CUDA) are not timed; CUDA is synchronised around the timed steps.
"min/epoch" projects the minutes of one epoch of --epoch-images digits (60000: all of MNIST; 0: no such column).

Never run as a test: timings depend on the machine. Report them with the machine (printed first) they came from.
"""

import argparse
import time

import torch
from common import add_device_args, old_and_fast_paths

from difflab.config import runtime
from difflab.core.ddpm import ddpm_loss, linear_alphas_cumprod
from difflab.models.unet import UNet


def fast_path_name(rt: runtime.Runtime, hidden: int) -> str:
    parts = [rt.precision, "channels_last" if rt.use_channels_last(hidden) else "contiguous"]
    if rt.compile:
        parts.append("compiled")
    if rt.device.type == "cuda":
        parts.append("fused Adam")
    return ", ".join(parts)


def seconds_per_step(rt: runtime.Runtime, hidden: int, batch: int, steps: int, warmup: int, fused: bool) -> float:
    """Mean wall time of one training step on rt (as fit() runs it), after `warmup` untimed steps; fused: Adam's
    one-kernel update (CUDA only)."""
    device = rt.device
    torch.manual_seed(0)
    model = rt.prepare(UNet(hidden, "class"))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused else {}))
    compiled = torch.compile(model, mode="reduce-overhead" if device.type == "cuda" else None) if rt.compile else model
    loss_fn = ddpm_loss(linear_alphas_cumprod(300, 1e-4, 0.02), "class", 0.1)
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 1, 28, 28, device=device, generator=generator)
    y = torch.randint(0, 10, (batch,), device=device, generator=generator)
    losses = torch.zeros(warmup + steps, device=device)  # kept on the device, as fit() does

    def step(i: int) -> None:
        with rt.autocast():
            loss = loss_fn(compiled, x, y, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[i] = loss.detach()

    for i in range(warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    if not torch.isfinite(losses).all():
        raise RuntimeError(f"non-finite training loss at D={hidden} on {rt.summary()}")
    return elapsed / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 32, 128],
                        help="UNet widths D (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=128, help="images per step (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them (default: %(default)s)")
    add_device_args(parser)
    parser.add_argument("--epoch-images", type=int, default=60000,
                        help="project minutes per epoch of this many digits; 0: no projection (default: %(default)s)")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--steps and --batch must be >= 1, --warmup >= 0")

    paths = old_and_fast_paths(parser, args)

    print(f"torch {torch.__version__}; batch {args.batch}; {args.warmup} warm-up + {args.steps} timed steps each")
    for old, fast in paths:
        print(f"\n{runtime.describe(old.device)}\n")
        head = "| D | fp32 eager img/s | fast path img/s | fast path | ratio |"
        rule = "|---:|---:|---:|---|---:|"
        if args.epoch_images:
            head += f" min/epoch ({args.epoch_images:,} digits), fp32 | min/epoch, fast |"
            rule += "---:|---:|"
        print(head)
        print(rule, flush=True)
        for hidden in args.hidden:
            t_old = seconds_per_step(old, hidden, args.batch, args.steps, args.warmup, fused=False)
            t_fast = seconds_per_step(fast, hidden, args.batch, args.steps, args.warmup,
                                      fused=fast.device.type == "cuda")
            row = (f"| {hidden} | {args.batch / t_old:,.0f} | {args.batch / t_fast:,.0f} "
                   f"| {fast_path_name(fast, hidden)} | {t_old / t_fast:.2f}x |")
            if args.epoch_images:
                steps_per_epoch = -(-args.epoch_images // args.batch)
                row += f" {t_old * steps_per_epoch / 60:.1f} | {t_fast * steps_per_epoch / 60:.1f} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
