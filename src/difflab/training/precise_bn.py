"""Precise BatchNorm statistics (Wu and Johnson, "Rethinking 'Batch' in BatchNorm", 2021; fvcore's update_bn_stats):
after training, the running means and variances the model samples with are recomputed for the weights it keeps,
as plain averages over many training batches, instead of the running average PyTorch leaves (momentum 0.1: about
the last ten batches, each drawn while the weights still moved).

Why it matters here: a diffusion model's batches mix every timestep, so the statistics of one batch of 64 swing
with the timesteps drawn in it, and the running estimate after the last ten batches is far from the average the
weights were trained against. The quick profile's time DDPM drew judge distances of 409 and 154 (seeds 1 and 2;
floor 21.7) with the running estimate and 120 and 143 with statistics averaged over 100 batches, weights untouched
(docs/results.md, "The time DDPM across seeds").

A lever outside the spec (off in params.yaml: precise_bn_batches 0). Training is unchanged: the batches and the
noise come from a generator of their own, seeded by the run's seed and the epoch.
"""

import copy

import torch
from torch import nn

from difflab.config.runtime import Runtime

# loss_fn(model, images, labels, generator): training.loop.LossFn (not imported: the loop imports this module)


def seed_of(seed: int, epoch: int) -> int:
    """The seed of the batches that measure the weights after `epoch`: apart from the training generator's."""
    return seed * 1_000_003 + epoch + 7919


@torch.no_grad()
def precise_bn(model: nn.Module, weights: dict, loss_fn, images: torch.Tensor, labels: torch.Tensor, batches: int,
               batch_size: int, seed: int, rt: Runtime) -> dict:
    """`weights` (a state dict of `model`) with every BatchNorm's running mean and variance replaced by their
    averages over `batches` batches of training inputs, as loss_fn makes them (noised digits at random timesteps,
    classes dropped as in training), drawn with a generator seeded by `seed`. The model itself is left as it was;
    the other weights and the batch counters come back unchanged."""
    if batches < 1:
        raise ValueError(f"batches={batches}; allowed: an integer >= 1")
    net = copy.deepcopy(model)
    net.load_state_dict(weights)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return dict(weights)
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch counts the same
    net.train()
    generator = torch.Generator(device=images.device).manual_seed(seed)
    with rt.autocast():
        for _ in range(batches):
            idx = torch.randint(0, len(images), (batch_size,), generator=generator, device=images.device)
            loss_fn(net, images[idx], labels[idx], generator)
    measured = net.state_dict()
    out = {}
    for k, v in weights.items():  # new statistics; weights and num_batches_tracked as they were
        stat = k.endswith(("running_mean", "running_var"))
        out[k] = measured[k].detach().to(v.device, v.dtype).clone() if stat else v
    return out
