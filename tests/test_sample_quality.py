"""sample_quality.judge_samples on a hand-made case: the sampler is replaced by fixed images whose judge labels and
features are known (test_judge.PixelJudge: features = the first ten pixels, label = the brightest of them)."""

import pytest
import torch
from test_judge import PixelJudge, pixel_digits

from difflab.config.runtime import Runtime
from difflab.evaluation import sample_quality
from difflab.evaluation.sample_quality import Reference, judge_samples

ASKED = [0, 1, 2, 3, 4, 5, 6, 7]
LABELLED = [0, 1, 2, 9, 4, 4, 6, 0]  # 5 of the 8 as asked: images 0, 1, 2, 4 and 6


@pytest.fixture
def samples(monkeypatch):
    """judge_samples with generate() returning pixel_digits(LABELLED); returns the images and the calls made."""
    images, calls = pixel_digits(LABELLED), []

    def fake_generate(unet, meta, x_T, generator, digits, *args, **kwargs):
        calls.append({"n": len(x_T), "digits": digits})
        return images.clone()
    monkeypatch.setattr(sample_quality, "generate", fake_generate)
    return images, calls


def judge(ref, digits):
    return judge_samples(ref, None, {}, len(LABELLED), seed=0, runtime=Runtime(torch.device("cpu"), "fp32"),
                         batch_size=3, digits=digits)


def test_accuracy_is_the_fraction_judged_as_the_digit_asked_for(samples):
    """Catches the accuracy over the wrong axis (every label against every digit asked: 7/64 here), against the
    wrong list, or over classes instead of images: 5 of 8 digits are judged as asked."""
    images, calls = samples
    features = images.flatten(1)[:, :10].double()
    out = judge(Reference(PixelJudge(), features, 0.0), ASKED)
    assert calls == [{"n": 8, "digits": ASKED}]
    assert out["judge_accuracy"] == 5 / 8


def test_distance_is_between_the_samples_and_the_test_features(samples):
    """Catches the distance taken on transposed features or against the wrong set: the test features are the
    samples' own shifted by (0.5, 0.25, 0, ...), so the distance is the squared shift, 0.3125 (equal
    covariances), and no accuracy is reported for an unconditioned model."""
    images, _ = samples
    shift = torch.zeros(10, dtype=torch.float64)
    shift[:2] = torch.tensor([0.5, 0.25], dtype=torch.float64)
    test_features = images.flatten(1)[:, :10].double() + shift
    out = judge(Reference(PixelJudge(), test_features, 0.0), None)
    assert out.keys() == {"fd_to_test"}
    assert out["fd_to_test"] == pytest.approx(0.3125, abs=1e-6)
