"""The EMA of ema.py against values computed by hand: decay_t = min(decay, (1 + t) / (10 + t)) at update t (t from
1), ema <- decay_t * ema + (1 - decay_t) * weights; BatchNorm's float statistics averaged, its counter copied."""

from fractions import Fraction as F

import pytest
import torch
from torch import nn

from difflab.models.ema import Ema


def scalar_model(value: float) -> nn.Module:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def averages(decay: float, weights: list[float]) -> list[float]:
    """The EMA after each update of a one-weight model that starts at 0 and is then set to each of `weights`."""
    model = scalar_model(0.0)
    ema = Ema(model, decay)
    out = []
    for w in weights:
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update(model)
        out.append(ema.state["weight"].item())
    return out


def test_warm_up_follows_one_plus_t_over_ten_plus_t():
    """Catches a warm-up off by one update (t from 0), inverted, or the lerp weight decay instead of 1 - decay:
    with decay 0.9 the first three updates use only the warm-up 2/11, 3/12, 4/13."""
    # t=1: 2/11 * 0 + 9/11 * 1; t=2: 1/4 * 9/11 + 3/4 * 2 = 75/44; t=3: 4/13 * 75/44 + 9/13 * 3 = 372/143
    want = [F(9, 11), F(75, 44), F(372, 143)]
    assert averages(0.9, [1.0, 2.0, 3.0]) == pytest.approx([float(v) for v in want], rel=1e-6)


def test_the_decay_caps_the_warm_up():
    """Catches the configured decay ignored (warm-up only) or taken as max instead of min: with decay 0.2 the warm-up
    2/11 applies at t=1 only; from t=2 on (3/12 > 0.2) the decay is 0.2."""
    # t=1: 9/11; t=2: 0.2 * 9/11 + 0.8 * 2 = 97/55; t=3: 0.2 * 97/55 + 0.8 * 3 = 757/275
    want = [F(9, 11), F(97, 55), F(757, 275)]
    assert averages(0.2, [1.0, 2.0, 3.0]) == pytest.approx([float(v) for v in want], rel=1e-6)


def test_a_long_run_settles_at_the_configured_decay():
    """Catches a warm-up that never ends: after 100 updates (warm-up 101/110 > 0.9) one more update of a weight
    jumping from 0 to 1 moves the average by exactly 1 - 0.9."""
    ema_values = averages(0.9, [0.0] * 100 + [1.0])
    assert ema_values[-2] == 0.0 and ema_values[-1] == pytest.approx(0.1, rel=1e-6)


def test_batchnorm_statistics_are_averaged_and_its_counter_copied():
    """Catches buffers left at their initial values (only parameters averaged) or an integer counter lerped."""
    model = nn.BatchNorm1d(1)
    ema = Ema(model, 0.9)
    with torch.no_grad():
        model.running_mean.fill_(11.0)
        model.num_batches_tracked.fill_(7)
    ema.update(model)  # decay 2/11: 2/11 * 0 + 9/11 * 11 = 9
    assert ema.state["running_mean"].item() == pytest.approx(9.0)
    assert ema.state["num_batches_tracked"].item() == 7 and ema.state["num_batches_tracked"].dtype == torch.long


def test_a_restored_ema_continues_where_it_stopped():
    """Catches load_state_dict that restores the weights but not the update count (the warm-up would restart):
    three updates, save, two more on a fresh Ema loaded from the save, equal five updates in one go."""
    model = scalar_model(0.0)
    ema = Ema(model, 0.9)
    for w in (1.0, 2.0, 3.0):
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update(model)
    saved = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in ema.state_dict().items()}
    saved["state"] = {k: v.clone() for k, v in saved["state"].items()}
    resumed = Ema(scalar_model(5.0), 0.5)  # a different start and decay: both must come from the save
    resumed.load_state_dict(saved)
    for w in (4.0, 5.0):
        with torch.no_grad():
            model.weight.fill_(w)
        ema.update(model)
        resumed.update(model)
    assert resumed.updates == ema.updates == 5 and resumed.decay == 0.9
    assert torch.equal(resumed.state["weight"], ema.state["weight"])


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match=f"decay={decay}"):
        Ema(nn.Linear(1, 1), decay)
