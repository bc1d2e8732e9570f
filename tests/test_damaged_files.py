"""Nothing runs from a file, nothing damaged is used in silence: training state is read as data (a pickle that would
call code is refused, not run), every file the project reads that it (or DVC) wrote names itself in one line when it
is truncated or not what it claims to be, with the command that restores it, and a stage checks the dataset against
its sha256 on record before it trains or judges."""

import json
import os
import pickle

import pytest
import torch
import yaml
from helpers import ROOT, run_stage, train

from difflab.config.metric_files import TimeEval
from difflab.errors import DamagedFile, exit_on_input_error
from difflab.models.checkpoints import UnreadableState, load_state, save_model


class Planted:
    """Unpickles to a call: Path(marker).touch(), what a crafted resume file would do (run code on load)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return Path.touch, (Path(self.marker),)


def test_a_crafted_resume_file_is_refused_never_run(tmp_path, digits, capsys):
    """torch.load(weights_only=False) would touch the marker; the training loop must not, and starts over."""
    marker = tmp_path / "ran"
    checkpoint = tmp_path / "run" / "ckpt.pt"
    checkpoint.parent.mkdir()
    torch.save({"fingerprint": Planted(marker), "epoch": 2}, checkpoint)
    with pytest.raises(UnreadableState, match="ckpt.pt: not readable as training state"):
        load_state(checkpoint)
    assert not marker.exists()
    with open(checkpoint, "wb") as f:  # a bare pickle too, not torch's zip
        pickle.dump(Planted(marker), f, protocol=2)
    with pytest.raises(UnreadableState):
        load_state(checkpoint)
    assert not marker.exists()
    epochs = []
    train(tmp_path / "run", digits, on_epoch_end=epochs.append)
    assert not marker.exists() and epochs == [1, 2, 3]  # from scratch, said in one line
    assert f"{checkpoint}: not readable as training state" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_a_damaged_resume_file_starts_the_run_over_with_that_said(tmp_path, digits, capsys, damage):
    """Random bytes (an UnpicklingError before) or a checkpoint cut short: one line, then the run from scratch,
    whose weights are those of a run that never had a checkpoint."""
    unbroken = train(tmp_path / "a", digits)
    checkpoint = tmp_path / "b" / "ckpt.pt"
    checkpoint.parent.mkdir()
    if damage == "random":
        checkpoint.write_bytes(os.urandom(4096))
    else:
        _train_until_stopped(tmp_path / "c", digits)  # leaves a real checkpoint behind
        whole = (tmp_path / "c" / "ckpt.pt").read_bytes()
        checkpoint.write_bytes(whole[: len(whole) // 2])
    capsys.readouterr()
    again = train(tmp_path / "b", digits)
    said = [line for line in capsys.readouterr().out.splitlines() if "ckpt.pt" in line]
    assert len(said) == 1 and said[0].startswith(f"{checkpoint}: not readable as training state (")
    assert said[0].endswith("; starting from scratch (it is resume state, not an output)")
    for k, v in unbroken.state_dict.items():
        assert torch.equal(v, again.state_dict[k]), k


class _Stop(Exception):
    pass


def _stop_after_first(epoch):
    if epoch == 1:
        raise _Stop


def _train_until_stopped(tmp, digits):
    with pytest.raises(_Stop):
        train(tmp, digits, on_epoch_end=_stop_after_first)


# -- every loader: random bytes and a truncated file give one line naming the file, what is wrong, the way out --

def _damage(path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(os.urandom(len(data)) if how == "random" else data[: len(data) // 2])


def _one_line_exit_2(capsys, load, prefix="stage"):
    with pytest.raises(SystemExit) as stop, exit_on_input_error(prefix):
        load()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    return err


def _unet_file(folder):
    from difflab.models.unet import UNet

    path = folder / "models" / "ddpm_time" / "final.safetensors"
    save_model(path, UNet(4, "time").state_dict(), {"hidden": 4, "conditioning": "time"})
    return path


def _judge_file(folder):
    from safetensors.torch import save_file

    from difflab.models.judge import Judge

    path = folder / "models" / "judge" / "final.safetensors"
    path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in Judge().state_dict().items()}, path)
    return path


def _conditions_file(folder):
    from difflab.parta.conditions import save_conditions

    path = folder / "data" / "prompts" / "one_step.safetensors"
    save_conditions(path, ["", "3"], torch.eye(2, 10), "mnist")
    return path


REFERENCE = ROOT / "results" / "paper-h200-2026-12-04"  # a real run's metric files


def _metric_file(folder, name="ddpm_time/eval.json"):
    path = folder / "reports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((REFERENCE / "reports" / name).read_text())
    return path


def _loaders():
    from difflab.models.checkpoints import load_model
    from difflab.models.judge import load_judge
    from difflab.parta.conditions import ConditionCache

    return {"model weights": (_unet_file, load_model, "difflab model file",
                              "dvc checkout --force {path}, or where DVC's cache lacks it dvc repro train_ddpm_time"),
            "the judge": (_judge_file, load_judge, "judge's weights file",
                          "dvc checkout --force {path}, or where DVC's cache lacks it dvc repro train_judge"),
            "prompt conditions": (_conditions_file, lambda p: ConditionCache(p, "mnist"), "prompt conditions file",
                                  "dvc checkout --force {path}, or where DVC's cache lacks it dvc repro embed_prompts"),
            "a metric file": (_metric_file, TimeEval.read, "metric file", "dvc repro eval_ddpm_time")}


@pytest.mark.parametrize("how", ["random", "truncated"])
@pytest.mark.parametrize("loader", ["model weights", "the judge", "prompt conditions", "a metric file"])
def test_each_loader_names_a_damaged_file_and_the_way_to_restore_it(tmp_path, monkeypatch, capsys, loader, how):
    """The intact file loads; damaged, it ends in one line (exit 2 under a stage): the path, what it should be, what
    is wrong and the command that restores it (the stage named from dvc.lock where the path says nothing)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"eval_ddpm_time": {
        "cmd": "python stages/eval_diffusion.py ddpm_time", "outs": [{"path": "reports/ddpm_time/eval.json"}]}}}))
    make, load, what, restore = _loaders()[loader]
    path = make(tmp_path).relative_to(tmp_path)
    load(path)  # intact: no error
    _damage(path, how)
    with pytest.raises(DamagedFile) as damaged:
        load(path)
    message = str(damaged.value)
    assert message.startswith(f"{path}: not a readable {what} (")
    assert message.endswith(f"; restore it: {restore.format(path=path)}")
    assert _one_line_exit_2(capsys, lambda: load(path)) == f"stage: {message}\n"


def test_a_model_file_of_another_shape_is_not_what_it_claims(tmp_path):
    """Valid safetensors holding other weights under the name (a D = 8 file where D = 4 is described): named."""
    from difflab.models.checkpoints import load_model
    from difflab.models.unet import UNet

    path = tmp_path / "models" / "ddpm_class" / "final.safetensors"
    save_model(path, UNet(8, "class").state_dict(), {"hidden": 4, "conditioning": "class"})
    with pytest.raises(DamagedFile, match=r"final.safetensors: not a readable difflab model file \(RuntimeError: "
                                          r"Error\(s\) in loading state_dict.*dvc repro train_ddpm_class$"):
        load_model(path)


@pytest.mark.parametrize("how", ["random", "truncated"])
def test_a_damaged_part_a_image_is_named_with_the_way_out(tmp_path, how):
    from PIL import Image

    from difflab.parta.images import ImageError, load_image, make_mask

    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(photo)
    Image.new("L", (28, 28), 255).save(mask)
    for path in (photo, mask):
        _damage(path, how)
    with pytest.raises(ImageError, match=rf"image '{photo}': {photo} is not a readable image \(.*\); replace the "
                                         r"file, or name another image in params.yaml$"):
        load_image(str(photo), 28, 1)
    with pytest.raises(ImageError, match=rf"mask '{mask}': not a readable image \(.*\); replace the file"):
        make_mask(str(mask), 28)


@pytest.mark.slow
def test_a_stage_given_a_truncated_model_says_so_in_one_line(tmp_path):
    """End to end: the sample stage on a cut-off models/ddpm_time/final.safetensors (a SafetensorError traceback
    before), exit 2, nothing written."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(dict(params, device="cpu", precision="fp32")))
    path = _unet_file(tmp_path)
    _damage(path, "truncated")
    out = run_stage(["sample_diffusion.py", "ddpm_time"], tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("sample_diffusion: models/ddpm_time/final.safetensors: not a readable difflab model "
                                 "file (SafetensorError: Error while deserializing header: ")
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_summary_and_compare_name_a_damaged_metric_file(tmp_path):
    """The summary stage on a truncated metric file; `make compare` on random bytes in reports/summary.json (where
    DVC itself stops with an unnamed EncodingError): each one line, exit 2, naming the file and the stage."""
    import subprocess
    import sys

    from difflab.reporting.summary import SOURCES

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    for path in SOURCES.values():  # every metric file there, intact
        _metric_file(tmp_path, path.relative_to("reports").as_posix())
    metrics = tmp_path / SOURCES["time"]
    _damage(metrics, "truncated")
    out = run_stage(["summary.py"], tmp_path)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr[-2000:]
    assert out.stderr.startswith("summary: reports/ddpm_time/eval.json: not a readable metric file (JSONDecodeError")
    summary = tmp_path / "reports" / "summary.json"
    assert not summary.exists()
    summary.write_text(json.dumps({"profile": "quick", "psnr": 20.0}))
    _damage(summary, "random")
    out = subprocess.run([sys.executable, "-m", "difflab.reporting.compare"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr[-2000:]
    assert out.stderr.startswith("python -m difflab.reporting.compare: error: reports/summary.json: not a readable "
                                 "metric file (") and out.stderr.rstrip().endswith("restore it: dvc repro summary")


# -- the dataset on record ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_flipped_byte_in_the_dataset_stops_training_before_its_first_step(tmp_path, tiny_mnist):
    """The judge's training stage run by itself (no download_mnist before it) on a dataset whose training images
    differ by one byte from their sha256 in params.yaml: one line naming the file and the way back, exit 2, and no
    step taken (no checkpoint, no DVCLive log, no model). (With the files on record the same stage trains: the tiny
    DAG's train_judge, tests/test_pipeline.py.)"""
    source, sha = tiny_mnist
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(device="cpu", precision="fp32", threads=1)
    params["data"]["mnist"]["sha256"] = sha
    params["judge"].update(epochs=1, train_limit=64)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    data = tmp_path / "data" / "dataset"
    data.mkdir(parents=True)
    for name in sha:
        (data / name).write_bytes((source / name).read_bytes())
    images = data / "train-images-idx3-ubyte"
    flipped = bytearray(images.read_bytes())
    flipped[1000] ^= 0xFF
    images.write_bytes(bytes(flipped))
    out = run_stage(["train_judge.py"], tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr == (f"train_judge: data/dataset/train-images-idx3-ubyte: not a readable mnist file (sha256 "
                          f"{__import__('hashlib').sha256(bytes(flipped)).hexdigest()[:16]}..., not the "
                          f"{sha['train-images-idx3-ubyte'][:16]}... on record in params.yaml data.mnist.sha256); "
                          f"restore it: dvc checkout --force data/dataset, or dvc repro download_mnist\n")
    assert not (tmp_path / "models").exists() and not (tmp_path / "checkpoints").exists()
    assert not (tmp_path / "reports").exists()


def test_the_dataset_check_names_a_missing_file(tmp_path, tiny_mnist):
    from types import SimpleNamespace

    from difflab.data.mnist import check_dataset

    source, sha = tiny_mnist
    data = SimpleNamespace(dir=str(source), dataset="mnist", mnist=SimpleNamespace(sha256=sha))
    check_dataset(data)  # as on record: silent
    (source / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DamagedFile, match=r"t10k-labels-idx1-ubyte: not a readable mnist file \(missing\); restore "
                                          r"it: dvc checkout --force .*, or dvc repro download_mnist$"):
        check_dataset(data)


def test_part_a_checks_the_dataset_only_where_its_images_come_from_it():
    """The MNIST models' sections name test digits (mnist-test:<i>): checked; DeepFloyd IF's name none: a stage on IF
    needs no dataset at all."""
    from difflab.config.params import check
    from difflab.parta.images import reads_dataset

    parta = check(yaml.safe_load((ROOT / "params.yaml").read_text())).parta
    assert reads_dataset(parta.mnist) and reads_dataset(parta.mnist_flow)
    assert not reads_dataset(parta.deepfloyd_if)
