"""The 95 % intervals (difflab/intervals.py, evaluation/sample_quality.py: frechet_interval) against hand values
and, for the judge Frechet distance's bootstrap, against Gaussian features whose sampling spread the test simulates."""

import pytest
import torch

from difflab.intervals import Z, differs, mean_interval, verdict, wilson
from difflab.evaluation.sample_quality import bootstrap_distances, frechet_interval
from difflab.models.judge import frechet_distance


@pytest.mark.parametrize("k, n, lo, hi", [(5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0),
                                          (1, 2, 0.0945, 0.9055), (95, 100, 0.8882, 0.9785)])
def test_wilson_against_hand_values(k, n, lo, hi):
    """(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), worked by hand at z = 1.96."""
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_shrinks_as_n_grows_and_refuses_impossible_counts():
    widths = [wilson(n // 2, n)[1] - wilson(n // 2, n)[0] for n in (40, 160, 640)]
    assert widths[0] / widths[1] == pytest.approx(2, rel=0.05) and widths[1] / widths[2] == pytest.approx(2, rel=0.05)
    for k, n in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ValueError, match=f"k={k}, n={n}"):
            wilson(k, n)


def test_mean_interval_by_hand():
    # mean 2.5, sample sd sqrt(5/3) = 1.29099, standard error 0.645497
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert (mean, lo, hi) == pytest.approx((2.5, 2.5 - Z * 0.645497, 2.5 + Z * 0.645497), abs=1e-5)
    with pytest.raises(ValueError, match="at least 2 values; got 1"):
        mean_interval([1.0])


@pytest.mark.parametrize("lo, hi, op, limit, expected", [
    (0.96, 0.99, ">=", 0.95, "met"), (0.90, 0.94, ">=", 0.95, "missed"), (0.93, 0.97, ">=", 0.95, "within noise"),
    (50.0, 60.0, "<=", 66.0, "met"), (70.0, 80.0, "<=", 66.0, "missed"), (60.0, 70.0, "<=", 66.0, "within noise"),
    (None, None, ">=", 0.95, "met")])  # no interval: the value (0.97) decides
def test_a_goal_reads_met_missed_or_within_noise(lo, hi, op, limit, expected):
    value = 0.97 if lo is None else (lo + hi) / 2
    assert verdict(lo, hi, value, op, limit) == expected


def test_differs_only_where_the_intervals_do_not_overlap():
    assert differs((1.0, 2.0), (2.5, 3.0)) and differs((2.5, 3.0), (1.0, 2.0))
    assert not differs((1.0, 2.0), (1.9, 3.0)) and not differs((1.0, 3.0), (1.5, 2.0))


def _gaussian(n: int, d: int, g: torch.Generator, shift: float = 0.0) -> torch.Tensor:
    scale = torch.linspace(0.5, 1.5, d, dtype=torch.float64)
    return shift + scale * torch.randn(n, d, generator=g, dtype=torch.float64)


def test_the_frechet_interval_covers_the_distance_of_n_samples_95_percent_of_the_time():
    """What it covers: the distance n = 200 samples score on average against a fixed reference (E[FD_n], its spread
    over seeded draws simulated here), not the lower distance of infinitely many samples. 200 seeded trials of 200
    Gaussian samples (d = 8, shifted from the reference): at least 90 % of the nominal 95 % intervals hold E[FD_n],
    and they are about as wide as the spread they estimate (not covering by being wide)."""
    g = torch.Generator().manual_seed(0)
    d, n = 8, 200
    reference = _gaussian(4000, d, g)
    draws = torch.tensor([frechet_distance(_gaussian(n, d, g, 0.3), reference) for _ in range(2000)])
    target, spread = draws.mean().item(), draws.std().item()
    covered, widths = 0, []
    for trial in range(200):
        a = _gaussian(n, d, g, 0.3)
        lo, hi = frechet_interval(a, reference, resamples=200, seed=trial)
        covered += lo <= target <= hi
        widths.append(hi - lo)
    assert covered >= 180, f"{covered}/200 intervals held the distance of {n} samples"
    assert 0.7 < sum(widths) / len(widths) / (2 * Z * spread) < 1.3


def test_the_frechet_interval_is_seeded_centred_on_the_value_and_shrinks_as_n_grows():
    g = torch.Generator().manual_seed(1)
    reference = _gaussian(4000, 8, g)
    small, large = _gaussian(200, 8, g, 0.3), _gaussian(800, 8, g, 0.3)
    lo, hi = frechet_interval(small, reference, 100, seed=7)
    assert (lo, hi) == frechet_interval(small, reference, 100, seed=7)  # seeded: the same draws
    assert (lo, hi) != frechet_interval(small, reference, 100, seed=8)
    assert (lo + hi) / 2 == pytest.approx(frechet_distance(small, reference))
    lo_large, hi_large = frechet_interval(large, reference, 100, seed=7)
    assert (hi_large - lo_large) / (hi - lo) == pytest.approx(0.5, abs=0.15)  # 1 / sqrt(4)
    with pytest.raises(ValueError, match="at least 2 resamples; got 1"):
        frechet_interval(small, reference, 1, seed=0)


def test_each_bootstrap_draw_is_the_frechet_distance_of_its_resample():
    """The batched formula (eigenvalues of S_b^1/2 S_a S_b^1/2) against frechet_distance on the same rows, drawn
    again from the same seed."""
    g = torch.Generator().manual_seed(2)
    reference, a = _gaussian(500, 6, g), _gaussian(40, 6, g, 0.5)
    draws = bootstrap_distances(a, reference, 5, seed=3)
    rows = torch.randint(0, 40, (5, 40), generator=torch.Generator().manual_seed(3))
    assert draws.tolist() == pytest.approx([frechet_distance(a[r], reference) for r in rows], rel=1e-9)


def test_a_distance_s_interval_never_goes_below_zero():
    """Samples of the reference's own distribution, few of them: the bootstrap spread is wider than the distance, and
    a plain value - 1.96 sd would be negative, which no distance is."""
    g = torch.Generator().manual_seed(0)
    reference, a = torch.randn(4000, 2, generator=g, dtype=torch.float64), torch.randn(50, 2, generator=g,
                                                                                      dtype=torch.float64)
    value, sd = frechet_distance(a, reference), bootstrap_distances(a, reference, 100, seed=0).std().item()
    assert value - Z * sd < 0
    lo, hi = frechet_interval(a, reference, 100, seed=0)
    assert lo == 0.0 and hi == pytest.approx(value + Z * sd)
