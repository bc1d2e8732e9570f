"""Precise BatchNorm statistics (training/precise_bn.py): the averages by hand, training left as it was, resume."""

import pytest
import torch
from helpers import CPU_FP32, train
from torch import nn

from difflab.config.runtime import Runtime
from difflab.core.ddpm import ddpm_loss, linear_alphas_cumprod
from difflab.models.unet import UNet
from difflab.training.loop import TrainConfig
from difflab.training.precise_bn import precise_bn, seed_of

FP32 = Runtime(torch.device("cpu"), "fp32")


class Scaled(nn.Module):
    """x -> BatchNorm(2 * x + 1): a model whose statistics are known from its inputs."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x):
        return self.norm(2 * x + 1)


def through(model, images, labels, generator):
    """A 'loss' that only feeds the batch through the model, plus noise drawn from the generator as losses do."""
    noise = torch.randn(images.shape, generator=generator)
    return model(images + noise).mean()


def test_the_statistics_are_plain_averages_over_the_batches():
    """Catches the running average left at PyTorch's momentum (the last batches weigh most), statistics not reset
    before measuring (the trained ones leak in), other weights changed, or the model itself modified."""
    images, labels = torch.rand(50, 1, 3, 3), torch.zeros(50, dtype=torch.long)
    model = Scaled()
    with torch.no_grad():
        model.norm.weight.fill_(3.0)
        model.norm.running_mean.fill_(100.0)
        model.norm.running_var.fill_(100.0)
        model.norm.num_batches_tracked.fill_(7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = precise_bn(model, model.state_dict(), through, images, labels, batches=5, batch_size=8, seed=3, rt=FP32)

    g = torch.Generator().manual_seed(3)  # the same draws by hand: indices, then the loss's noise, per batch
    means, variances = [], []
    for _ in range(5):
        idx = torch.randint(0, 50, (8,), generator=g)
        x = 2 * (images[idx] + torch.randn(images[idx].shape, generator=g)) + 1
        means.append(x.mean())
        variances.append(x.var(unbiased=True))
    assert torch.allclose(out["norm.running_mean"], torch.stack(means).mean().reshape(1), atol=1e-6)
    assert torch.allclose(out["norm.running_var"], torch.stack(variances).mean().reshape(1), atol=1e-5)
    assert torch.equal(out["norm.weight"], before["norm.weight"]) and out["norm.num_batches_tracked"] == 7
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.norm.momentum == 0.1


def test_bad_batches_are_named():
    with pytest.raises(ValueError, match="batches=0"):
        precise_bn(Scaled(), Scaled().state_dict(), through, torch.rand(4, 1, 3, 3), torch.zeros(4), 0, 2, 0, FP32)


CFG = TrainConfig(epochs=2, batch_size=32, lr=1e-3, seed=5, **CPU_FP32, snapshot_epochs=(1,), ema_decay=0.9)


def is_statistic(key: str) -> bool:
    return key.endswith(("running_mean", "running_var"))


def test_training_is_unchanged_and_only_the_kept_statistics_are_measured(tmp_path, digits):
    """Catches measuring with the training generator (the second epoch would train on other batches and noise) and
    statistics measured but not saved (final and snapshot), or measured for other weights than those kept (the
    EMA's): they must equal precise_bn of the unmeasured run's kept weights."""
    plain = train(tmp_path / "plain", digits, CFG)
    cfg = TrainConfig(**{**CFG.__dict__, "precise_bn_batches": 4})
    measured = train(tmp_path / "measured", digits, cfg)
    assert plain.losses == measured.losses
    loss = ddpm_loss(linear_alphas_cumprod(20, 1e-4, 0.02), "class", p_uncond=0.1)
    for epoch, (a, b) in {2: (plain.state_dict, measured.state_dict),
                          1: (plain.snapshots[1], measured.snapshots[1])}.items():
        assert {k for k in a if not torch.equal(a[k], b[k])} == {k for k in a if is_statistic(k)}
        model = UNet(4, "class")
        expected = precise_bn(model, a, loss, *digits, 4, 32, seed_of(CFG.seed, epoch), FP32)
        for k in a:
            assert torch.equal(expected[k], b[k]), (epoch, k)


def test_resume_after_a_kill_equals_an_unbroken_run(tmp_path, digits):
    cfg = TrainConfig(**{**CFG.__dict__, "precise_bn_batches": 3})
    unbroken = train(tmp_path / "a", digits, cfg)

    def kill(epoch):
        if epoch == 2:  # after the last epoch's checkpoint, before the final weights are measured
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "b", digits, cfg, on_epoch_end=kill)
    resumed = train(tmp_path / "b", digits, cfg)
    for a, b in ((unbroken.state_dict, resumed.state_dict), (unbroken.snapshots[1], resumed.snapshots[1])):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
