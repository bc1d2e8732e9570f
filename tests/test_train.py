import hashlib
import json

import pytest
import torch
from helpers import ROOT, class_config, param_keys, resolved_stages, train

from difflab.models.checkpoints import load_model, load_state, save_model
from difflab.training import loop as training
from difflab.training.loop import TrainConfig

CFG = class_config()


class Killed(Exception):
    pass


def kill_after(epoch):
    def hook(e):
        if e == epoch:
            raise Killed
    return hook


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_training_reduces_the_loss(tmp_path, digits):
    result = train(tmp_path, digits)
    assert len(result.losses) == 3 * 3 and len(result.epoch_losses) == 3
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    assert set(result.snapshots) == {2}


def test_resume_after_a_kill_equals_an_unbroken_run(tmp_path, digits):
    unbroken = train(tmp_path / "a", digits)
    with pytest.raises(Killed):
        train(tmp_path / "b", digits, on_epoch_end=kill_after(1))
    seconds_before_the_kill = load_state(tmp_path / "b/ckpt.pt")["seconds"]
    resumed_epochs = []
    resumed = train(tmp_path / "b", digits, on_epoch_end=resumed_epochs.append)
    assert resumed_epochs == [2, 3]  # epoch 1 was not trained again
    assert_same_weights(unbroken.state_dict, resumed.state_dict)
    assert_same_weights(unbroken.snapshots[2], resumed.snapshots[2])
    assert unbroken.losses == resumed.losses
    # the DVCLive log is rebuilt from the checkpoint, so it matches too
    tsv = "plots/metrics/train/loss.tsv"
    assert (tmp_path / "a/log" / tsv).read_text() == (tmp_path / "b/log" / tsv).read_text()
    (a, a_seconds), (b, b_seconds) = _metrics_and_seconds(tmp_path / "a/log"), _metrics_and_seconds(tmp_path / "b/log")
    assert a == b and a == {"train": {"loss": unbroken.losses[-1], "epoch_loss": unbroken.epoch_losses[-1]},
                            "step": len(unbroken.losses), "epoch": 3}
    # wall time, the one number no two runs share, counts the epoch trained before the kill as well
    assert 0 < seconds_before_the_kill < b_seconds == round(resumed.seconds, 2) and a_seconds > 0


def test_resume_with_ema_equals_an_unbroken_run(tmp_path, digits):
    """Catches an EMA not restored on resume (restarted from the resumed weights, or its warm-up count reset): the
    saved weights (final and snapshot) are the EMA's, and they must equal an unbroken run's byte for byte."""
    cfg = TrainConfig(**{**CFG.__dict__, "ema_decay": 0.9})
    unbroken = train(tmp_path / "a", digits, cfg=cfg)
    with pytest.raises(Killed):
        train(tmp_path / "b", digits, cfg=cfg, on_epoch_end=kill_after(1))
    resumed_epochs = []
    resumed = train(tmp_path / "b", digits, cfg=cfg, on_epoch_end=resumed_epochs.append)
    assert resumed_epochs == [2, 3]
    assert_same_weights(unbroken.state_dict, resumed.state_dict)
    assert_same_weights(unbroken.snapshots[2], resumed.snapshots[2])
    # the weights returned are the average, not the trained ones (which the checkpoint holds)
    trained = load_state(tmp_path / "a/ckpt.pt")["model"]
    assert not torch.equal(trained["out.weight"], unbroken.state_dict["out.weight"])


def _metrics_and_seconds(log):
    metrics = json.loads((log / "metrics.json").read_text())
    return metrics, metrics["train"].pop("seconds")


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path, digits):
    with pytest.raises(Killed):
        train(tmp_path, digits, on_epoch_end=kill_after(1))
    other = TrainConfig(**{**CFG.__dict__, "lr": 5e-4})
    seen = []
    train(tmp_path, digits, cfg=other, on_epoch_end=seen.append)
    assert seen == [1, 2, 3]


def test_seeded_cpu_runs_write_identical_model_files(tmp_path, digits):
    digests = []
    for run in ("x", "y"):
        result = train(tmp_path / run, digits)
        save_model(tmp_path / run / "m.safetensors", result.state_dict, {"hidden": 4, "conditioning": "class"})
        digests.append(hashlib.sha256((tmp_path / run / "m.safetensors").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    model, meta = load_model(tmp_path / "x" / "m.safetensors")
    assert meta == {"hidden": 4, "conditioning": "class"} and not model.training


def test_batched_loss_logging_writes_what_per_step_logging_wrote(tmp_path):
    """_log_losses logs a flush of losses with one next_step(); the files must be those of next_step() per loss."""
    from dvclive import Live

    values = [0.5, 0.25, 0.125, 0.0625, 0.03125]
    a = Live(str(tmp_path / "a"), save_dvc_exp=False, dvcyaml=None)
    for v in values:
        a.log_metric("train/loss", v)
        a.next_step()
    b = Live(str(tmp_path / "b"), save_dvc_exp=False, dvcyaml=None)
    training._log_losses(b, values[:2])
    training._log_losses(b, values[2:])
    for live in (a, b):
        live.log_metric("epoch", 1, plot=False)
        live.make_summary()
    tsv = "plots/metrics/train/loss.tsv"
    assert (tmp_path / "a" / tsv).read_text() == (tmp_path / "b" / tsv).read_text()
    assert (tmp_path / "a/metrics.json").read_text() == (tmp_path / "b/metrics.json").read_text()
    assert b.step == len(values)


def test_a_declared_knob_is_read_never_defaulted(tmp_path):
    """A section whose schema has ema_decay or precise_bn_batches must hold it (a missing one is not a silent 0: no
    EMA, running BatchNorm statistics), and a stage must declare it to read it; a section without such knobs (the
    judge: no EMA, constant lr, no snapshots) gets TrainConfig's "off"."""
    import yaml

    from difflab.config.params import ParamError, check, load

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["ddpm_time"]["ema_decay"] = 0.9
    raw["ddpm_time"]["precise_bn_batches"] = 7
    params = check(raw)
    cfg = training.config_from_params(params, "ddpm_time")
    assert (cfg.ema_decay, cfg.lr_final_factor, cfg.snapshot_epochs, cfg.precise_bn_batches) == (0.9, 0.1, (5,), 7)
    assert (cfg.precision, cfg.compile, cfg.log_every) == ("auto", "auto", 50)  # params.yaml's, no other default
    assert training.config_from_params(params, "flow_class").snapshot_epochs == (1, 5)
    judge = training.config_from_params(params, "judge")
    assert (judge.ema_decay, judge.lr_final_factor, judge.snapshot_epochs, judge.precise_bn_batches) == (0.0, 1.0, (),
                                                                                                          0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    runtime = [k for k in param_keys(resolved_stages()["train_ddpm_time"]) if not k.startswith(("ddpm_time", "data"))]
    for knob in ("ema_decay", "precise_bn_batches"):
        missing = yaml.safe_load(yaml.safe_dump(raw))
        del missing["ddpm_time"][knob]
        with pytest.raises(ParamError, match=f"ddpm_time.{knob}: missing"):
            check(missing)
        undeclared = [f"ddpm_time.{k}" for k in raw["ddpm_time"] if k != knob]
        with pytest.raises(AttributeError, match=knob):
            training.config_from_params(load(tmp_path / "params.yaml", (*runtime, *undeclared)), "ddpm_time")
