"""The judge and its metrics on inputs with a known answer."""

import math

import numpy as np
import pytest
import torch
from conftest import synthetic_digits
from helpers import CPU_FP32

from difflab.models.judge import Judge, frechet_distance, judge_loss, judge_outputs, load_judge
from difflab.training.loop import TrainConfig, fit


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


def with_moments(n: int, mean: list[float], cov: list[list[float]], seed: int) -> torch.Tensor:
    """n samples whose sample mean and covariance (torch.cov's, N - 1) are exactly mean and cov: Gaussian draws,
    centred, whitened by the Cholesky factor of their own covariance, recoloured by that of cov."""
    z = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    white = torch.linalg.solve_triangular(torch.linalg.cholesky(torch.cov(z.T)), z.T, upper=False).T
    cov = torch.tensor(cov, dtype=torch.float64)
    return white @ torch.linalg.cholesky(cov).T + torch.tensor(mean, dtype=torch.float64)


def test_frechet_distance_with_non_commuting_covariances():
    """The cross term is tr((A^1/2 B A^1/2)^1/2), not tr(A^1/2 B^1/2): they differ when A B != B A."""
    mu_a, mu_b = [0.5, -1.0], [1.5, 1.0]
    A, B = [[4.0, 0.0], [0.0, 0.25]], [[1.0, 0.9], [0.9, 1.0]]
    a, b = with_moments(5000, mu_a, A, 0), with_moments(7000, mu_b, B, 1)
    An, Bn = np.array(A), np.array(B)
    assert not np.allclose(An @ Bn, Bn @ An)
    # 2 x 2 closed form: for PSD M, tr M^1/2 = sqrt(tr M + 2 sqrt(det M)); A^1/2 B A^1/2 has the trace and
    # determinant of A B
    cross = math.sqrt(np.trace(An @ Bn) + 2 * math.sqrt(np.linalg.det(An) * np.linalg.det(Bn)))
    want = 1.0 + 4.0 + np.trace(An) + np.trace(Bn) - 2 * cross
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    # the commuting shortcut tr(A^1/2 B^1/2), with the 2 x 2 closed form of the square root, is measurably off
    def root(m):  # for 2 x 2 PSD M: M^1/2 = (M + sqrt(det M) I) / sqrt(tr M + 2 sqrt(det M))
        s = math.sqrt(np.linalg.det(m))
        return (m + s * np.eye(2)) / math.sqrt(np.trace(m) + 2 * s)
    shortcut = 5.0 + np.trace(An) + np.trace(Bn) - 2 * np.trace(root(An) @ root(Bn))
    assert abs(shortcut - want) > 0.25
    # d = 3, the cross term by a different route: tr (A B)^1/2 = sum of the square roots of A B's eigenvalues
    A3 = [[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.5]]
    B3 = [[1.0, -0.4, 0.6], [-0.4, 2.5, 0.1], [0.6, 0.1, 0.8]]
    a3, b3 = with_moments(6000, [0.0, 1.0, 2.0], A3, 2), with_moments(6000, [1.0, 1.0, 0.0], B3, 3)
    cross3 = np.sqrt(np.linalg.eigvals(np.array(A3) @ np.array(B3)).real).sum()
    want3 = 1.0 + 4.0 + np.trace(A3) + np.trace(B3) - 2 * cross3
    assert frechet_distance(a3, b3) == pytest.approx(want3, rel=1e-9)



def test_frechet_distance_over_samples_not_features():
    """Catches the mean or covariance taken over the wrong axis (features as samples): six samples of three features,
    both sets of the same size so that a transposed axis still runs. Diagonal covariances: the distance is
    |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 = (1 + 4 + 4) + ((2 - 1)^2 + 0 + (0.5 - 1)^2) = 10.25."""
    a = with_moments(6, [0.0, 0.0, 0.0], [[4.0, 0, 0], [0, 1.0, 0], [0, 0, 0.25]], 4)
    b = with_moments(6, [1.0, 2.0, -2.0], [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]], 5)
    assert a.shape == b.shape == (6, 3)
    assert frechet_distance(a, b) == pytest.approx(10.25, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(10.25, rel=1e-9)


class PixelJudge(torch.nn.Module):
    """A judge whose answer is known: its features are the first ten pixels, its label the brightest of them."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * 1.0

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return f


def pixel_digits(labels: list[int], seed: int = 0) -> torch.Tensor:
    """Images that PixelJudge labels `labels`: the first ten pixels dim random values, pixel `label` at 1."""
    x = torch.zeros(len(labels), 1, 28, 28)
    first = x.view(len(labels), -1)[:, :10]
    first.copy_(torch.rand(len(labels), 10, generator=torch.Generator().manual_seed(seed)) * 0.5)
    first[torch.arange(len(labels)), torch.tensor(labels)] = 1.0
    return x


def test_judge_outputs_labels_and_features_per_image_across_batches():
    """Catches batches concatenated along the wrong axis, the argmax over the batch instead of the classes, or a
    batch dropped: seven images in batches of three, labels and features checked image by image."""
    labels = [3, 1, 4, 1, 5, 9, 2]
    x = pixel_digits(labels)
    x[0, 0, 20, 20], x[2, 0, 0, 1] = 7.0, -2.0  # out of [0, 1]: clamped (the second one is one of the features)
    predicted, feats = judge_outputs(PixelJudge(), x, batch_size=3)
    assert predicted.tolist() == labels
    assert feats.shape == (7, 10) and feats.dtype == torch.float64
    torch.testing.assert_close(feats, x.clamp(0, 1).flatten(1)[:, :10].double())
    assert feats[2, 1] == 0.0

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A judge trained on the bar digits of conftest (label = angle), and held-out digits."""
    images, labels = synthetic_digits(3000, 0)
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    y = torch.from_numpy(labels).long()
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=1e-3, seed=0, **CPU_FP32)
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


def test_a_judge_trained_on_shuffled_labels_is_at_chance(trained, tmp_path):
    """The accuracy metric measures what the judge learnt from its labels: the same training on the same images with
    the labels shuffled gives a judge that knows nothing of the true labels (cross-entropy log 10, accuracy far
    below the true judge's; with ten bar angles the accuracy itself moves in steps of about 10 %)."""
    judge, x, y = trained
    shuffled = y[:1000][torch.randperm(1000, generator=torch.Generator().manual_seed(2))]
    assert (shuffled == y[:1000]).float().mean() < 0.15  # really shuffled
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=1e-3, seed=0, **CPU_FP32)
    result = fit(Judge(), judge_loss, x[:1000], shuffled, cfg, tmp_path / "ckpt.pt", tmp_path / "log")
    guesser = Judge()
    guesser.load_state_dict(result.state_dict)
    test_x, test_y = x[2000:3000], y[2000:3000]

    def accuracy_and_cross_entropy(model):
        predicted, _ = judge_outputs(model, test_x)
        with torch.no_grad():
            ce = torch.nn.functional.cross_entropy(model(test_x), test_y).item()
        return (predicted == test_y).float().mean().item(), ce
    accuracy, ce = accuracy_and_cross_entropy(judge)
    assert accuracy > 0.95 and ce < 0.2
    accuracy, ce = accuracy_and_cross_entropy(guesser)
    assert accuracy < 0.3 and ce == pytest.approx(math.log(10), abs=0.05)


def test_a_judge_keeps_the_standardisation_of_the_dataset_it_learned(tmp_path):
    """Judge.for_images standardises by its training images' pixel mean and std (MNIST's 0.1307 / 0.3081 by
    default, Fashion-MNIST's are others), and the two travel with the weights."""
    from safetensors.torch import save_file

    images = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.2
    judge = Judge.for_images(images)
    assert judge.mean.item() == pytest.approx(images.mean().item()) and judge.std.item() == pytest.approx(
        images.std().item())
    standardised = (images - images.mean()) / images.std()
    torch.testing.assert_close(judge.features(images), judge.body(standardised))
    assert Judge().mean.item() == pytest.approx(0.1307) and Judge().std.item() == pytest.approx(0.3081)
    save_file(judge.state_dict(), tmp_path / "j.safetensors")
    loaded = load_judge(tmp_path / "j.safetensors")
    assert loaded.mean.item() == judge.mean.item() and loaded.std.item() == judge.std.item()
