"""The metric files as pydantic models (config/metric_files.py): every real file of the published run read through
its model and written back byte for byte; the families a file holds flat (cfg_3.0, steps_5, velocity_t_0p02) keyed
by their numbers; a key a writer renames, drops or adds refused, naming the file and the stage that makes it; and
what the writers' own functions return taken by the models as it is."""

import json

import pytest
import torch
import yaml
from helpers import ROOT

from difflab.config.metric_files import FILES, ClassEval, Denoised, Judged, JudgedWithInterval, PartA, TrainLog
from difflab.errors import DamagedFile

REPORTS = ROOT / "results" / "paper-h200-2026-12-04" / "reports"  # a real run's metric files
WRITTEN = [name for name, model in FILES.items() if model is not TrainLog]  # DVCLive writes the training logs
# The predicted update's errors as a run of both models wrote them (the CPU rehearsal, 2026-12-04): the published
# run is older than that experiment
VELOCITY = {"eval_parta/metrics.json": {"velocity_t_150": 1.0910382270812988, "velocity_t_225": 2.0622315406799316,
                                        "velocity_t_75": 0.4647109806537628},
            "eval_parta_flow/metrics.json": {"velocity_t_0p25": 0.553959310054779, "velocity_t_0p5": 0.4112594723701477,
                                             "velocity_t_0p75": 0.2206086665391922}}


def real(name: str) -> dict:
    """reports/<name> of the published run as JSON, with the predicted update's errors for part A's."""
    data = json.loads((REPORTS / name).read_text())
    return {**data, **{k: {"rms_error": v} for k, v in VELOCITY.get(name, {}).items()}}


def text(data: dict, sort_keys: bool = True) -> str:
    return json.dumps(data, indent=2, sort_keys=sort_keys) + "\n"


@pytest.mark.parametrize("name", WRITTEN)
def test_each_real_file_is_its_models_text_byte_for_byte(name):
    """The writers now write the model's text: it must be the bytes the stages wrote before (floats, ints, None,
    key order: sorted, but the headline's and the judge's in their writer's order)."""
    model = FILES[name]
    assert model.read(REPORTS / name).text() == (REPORTS / name).read_text()
    data = real(name)
    assert model.model_validate(data).text() == text(data, model.sort_keys)


def test_a_flat_family_is_keyed_by_its_number():
    """A reader asks for the number, never builds the key: cfg_3.0 is cfg[3.0] (or cfg[3]), steps_5 steps[5], a
    flow's velocity_t_0p25 velocity[0.25], a DDPM's i_start 10 sdedit[10]; the DDPM step's columns by variance."""
    m = {name: FILES[name].model_validate(real(name)) for name in WRITTEN}
    assert m["ddpm_class/eval.json"].cfg[3].judge_accuracy == 1.0 and list(m["ddpm_class/eval.json"].cfg) == [
        0.0, 1.0, 3.0, 5.0, 7.0]
    assert m["denoiser/ood.json"].sigma[0.5].psnr_db == 20.846867920684065
    assert m["objectives/metrics.json"].flow_final.steps[5].fd_to_test == 153.33545147357108
    assert set(m["samplers/metrics.json"].ddpm) == {"fixed_small", "fixed_large"}
    assert m["eval_parta/metrics.json"].velocity[75].rms_error == 0.4647109806537628
    assert m["eval_parta_flow/metrics.json"].velocity[0.25].rms_error == 0.553959310054779
    assert m["eval_parta_flow/metrics.json"].sdedit[0.02].label_kept == 0.07999999821186066
    assert m["eval_parta_flow/metrics.json"].anagram["identity-6_rot90-1_rot180-9"].pairs["identity_rot180"] == \
        0.8700000047683716
    assert m["pure_noise/metrics.json"].earlier == {1: 0.020466193556785583}
    assert m["summary.json"].intervals["psnr"].n == 10000


@pytest.mark.parametrize("change, wrong", [
    (lambda d: d["cfg_3.0"].update(fd=d["cfg_3.0"].pop("fd_to_test")),
     "cfg.3.0.fd_to_test: Field required; cfg.3.0.fd: Extra inputs are not permitted"),
    (lambda d: d.pop("num_samples"), "num_samples: Field required"),
    (lambda d: d.update(guidance_3=d.pop("cfg_3.0")), "guidance_3: Extra inputs are not permitted"),
    (lambda d: d["cfg_1.0"].update(judge_accuracy="most"),
     "cfg.1.0.judge_accuracy: Input should be a valid number, unable to parse string as a number")])
def test_a_key_renamed_dropped_or_added_is_refused_naming_the_file_and_its_stage(tmp_path, monkeypatch, change,
                                                                                 wrong):
    """What a writer that renamed a key would have written: the reader stops in one line (exit 2 under a stage),
    naming the file, what is wrong and the stage that makes it (from dvc.lock)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"eval_ddpm_class": {
        "cmd": "python stages/eval_diffusion.py ddpm_class", "outs": [{"path": "reports/ddpm_class/eval.json"}]}}}))
    data = real("ddpm_class/eval.json")
    change(data)
    path = tmp_path / "reports" / "ddpm_class" / "eval.json"
    path.parent.mkdir(parents=True)
    path.write_text(text(data))
    with pytest.raises(DamagedFile) as damaged:
        ClassEval.read(path.relative_to(tmp_path))
    assert str(damaged.value) == (f"reports/ddpm_class/eval.json: not a readable metric file (not a ClassEval: {wrong}"
                                  "); restore it: dvc repro eval_ddpm_class")


def test_a_file_of_another_model_is_refused():
    """The flow model's part A file read as the DDPM's (t_start against i_start), an eval.json of a time model as a
    class model's."""
    with pytest.raises(DamagedFile, match=r"not a PartA: sdedit: Field required; sdedit_t_start_0p02: Extra inputs"):
        PartA.read(REPORTS / "eval_parta_flow/metrics.json")
    with pytest.raises(DamagedFile, match=r"not a ClassEval: cfg: Field required; fd_to_test: Extra inputs"):
        ClassEval.read(REPORTS / "ddpm_time/eval.json")


def test_the_writers_functions_give_what_the_models_take():
    """The denoiser's evaluation (ood.json's entries) and the judge on samples (eval.json's and the comparisons'),
    as they return them, on a tiny untrained UNet and hand-made features."""
    from difflab.config.runtime import Runtime
    from difflab.evaluation import sample_quality
    from difflab.evaluation.sample_quality import Reference, judge_samples
    from difflab.models.unet import UNet
    from difflab.training.denoiser import evaluate
    from test_judge import PixelJudge, pixel_digits

    g = torch.Generator().manual_seed(0)
    for sigma in (0.0, 0.5):  # no error at all on the noisy input at sigma 0: its PSNR is None
        Denoised.model_validate(evaluate(UNet(4).eval(), torch.rand(8, 1, 28, 28, generator=g), sigma, g))
    images = pixel_digits([0, 1, 2, 9, 4, 4, 6, 0, 8, 9])
    ref = Reference(PixelJudge(), images.flatten(1)[:, :10].double() + 0.1, 0.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sample_quality, "generate", lambda *args, **kwargs: images.clone())
        runtime = Runtime(torch.device("cpu"), "fp32")
        Judged.model_validate(judge_samples(ref, None, {}, 10, 0, runtime, 5, list(range(10))))
        JudgedWithInterval.model_validate(judge_samples(ref, None, {}, 10, 0, runtime, 5, list(range(10)),
                                                        resamples=4))
