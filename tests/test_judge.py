"""The judge and its metrics on inputs with a known answer."""

import pytest
import torch

from conftest import synthetic_digits
from difflab.judge import Judge, frechet_distance, judge_loss, judge_outputs
from difflab.train import TrainConfig, fit


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(0, abs=0.01)
    shift = torch.tensor([1.0, 2.0, 0.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, b + shift) == pytest.approx(5.0, rel=0.02)  # |m|^2
    assert frechet_distance(a, 2 * b) == pytest.approx(4.0, rel=0.05)  # tr(I + 4I - 2 * 2I) = d
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(a[:1], b)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A judge trained on the bar digits of conftest (label = angle), and held-out digits."""
    images, labels = synthetic_digits(3000, 0)
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    y = torch.from_numpy(labels).long()
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=1e-3, seed=0, device="cpu")
    tmp = tmp_path_factory.mktemp("judge")
    result = fit(Judge(), judge_loss, x[:2000], y[:2000], cfg, tmp / "ckpt.pt", tmp / "log")
    judge = Judge()
    judge.load_state_dict(result.state_dict)
    return judge.eval(), x, y


def test_real_digits_are_judged_right_and_close_to_the_floor(trained):
    judge, x, y = trained
    predicted, test_f = judge_outputs(judge, x[2000:2500])
    assert (predicted == y[2000:2500]).float().mean() > 0.95
    _, train_f = judge_outputs(judge, x[:500])
    _, other_f = judge_outputs(judge, x[2500:3000])
    floor = frechet_distance(train_f, test_f)
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    _, noise_f = judge_outputs(judge, noise)
    assert frechet_distance(other_f, test_f) < 2 * floor + 1e-3
    assert frechet_distance(noise_f, test_f) > 10 * floor


def test_shuffled_labels_give_chance_accuracy(trained):
    judge, x, y = trained
    predicted, _ = judge_outputs(judge, x[2000:3000])
    shuffled = y[2000:3000][torch.randperm(1000, generator=torch.Generator().manual_seed(2))]
    assert (predicted == shuffled).float().mean().item() == pytest.approx(0.1, abs=0.04)
