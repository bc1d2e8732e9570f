"""The report page (difflab/reporting/report.py) lays out the data it is given, never a file it reads itself, and the
report stage (stages/report.py) is what reads the workspace's run for it."""

import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, headline_file, run_stage

from difflab.config.metric_files import FILES, JudgeTest
from difflab.config.params import check
from difflab.reporting.report import METRICS, SUMMARY, figure_sources, profile_text, render

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())
PARAMS = check(RAW)
SHOWN = yaml.safe_dump(RAW, sort_keys=False)  # params.yaml as the page shows it


REFERENCE = ROOT / "results" / "paper-h200-2026-12-04" / "reports"  # a real run's metric files


def run_metrics(ddim_accuracy: float, rms: float, flow_accuracy: float, judge_accuracy: float) -> dict:
    """Every metric file the page shows (file relative to reports/ -> its model): the published reference run's,
    those the captions quote and the judge's with numbers that name the run."""
    metrics = {name: FILES[name].read(REFERENCE / name) for name in METRICS.values()}
    steps = {"steps_5": {"judge_accuracy": 0.5, "fd_to_test": 99.0}}
    metrics["samplers/metrics.json"] = FILES["samplers/metrics.json"].model_validate({
        "fixed_small": steps, "ddim": {"steps_5": {"judge_accuracy": ddim_accuracy, "fd_to_test": 42.0}},
        "ddim_eta": 0.0, "fd_floor_train_vs_test": 22.0, "num_samples": 200})
    metrics["pure_noise/metrics.json"] = FILES["pure_noise/metrics.json"].model_validate({
        "rms_output_to_mean_digit": rms, "rms_between_outputs": 0.001, "rms_digit_to_mean_digit": 0.3,
        "rms_output_to_mean_digit_epoch1": 0.05})
    metrics["objectives/metrics.json"] = FILES["objectives/metrics.json"].model_validate({
        "ddpm_final": {"epoch": 1, **steps}, "ddpm_equal_epochs": {"epoch": 1, **steps},
        "flow_final": {"epoch": 1, "steps_5": {"judge_accuracy": flow_accuracy, "fd_to_test": 99.0}},
        "flow_equal_epochs": {"epoch": 1, **steps}, "fd_floor_train_vs_test": 22.0, "num_samples": 200})
    metrics["judge/metrics.json"] = JudgeTest(test_accuracy=judge_accuracy, n=10000)
    return metrics


def figure(page: str, title: str) -> str:
    """The part of the page under the heading `title` (a figure with its caption, or a metrics table)."""
    return page.split(f"<h3>{title}</h3>")[1].split("<h3>")[0]


def test_the_report_page_shows_the_numbers_it_is_given(tmp_path, monkeypatch):
    """Two runs with different numbers get pages with their own numbers in the captions, the metrics tables and the
    headline, also where the working directory holds no reports/ (the page reads nothing of a run)."""
    monkeypatch.chdir(tmp_path)
    pages = {run: render(PARAMS, run_metrics(*numbers), {"psnr": psnr}, f"rev-{run}", profile_text("paper"),
                        SHOWN)
             for run, numbers, psnr in (("a", (0.61, 0.011, 0.71, 0.9125), 20.5),
                                        ("b", (0.83, 0.022, 0.92, 0.8375), 31.25))}
    assert not list(tmp_path.iterdir())
    for run, ddim, rms, flow, judge, psnr, other in (("a", "0.61", "0.011", "0.71", "0.9125", "20.5", "b"),
                                                     ("b", "0.83", "0.022", "0.92", "0.8375", "31.25", "a")):
        page = pages[run]
        assert f"DDIM {ddim} / 42" in figure(page, "DDIM against the DDPM step: digits per sampling step")
        assert f"lie {rms} (RMS" in figure(page, "Denoising pure noise: what it learns")
        assert f"flow {flow}" in figure(page, "DDPM against flow matching: digits per sampling step")
        assert re.search(rf"<td>test_accuracy</td><td>{judge}</td>", figure(page, "Judge (reports/judge/metrics.json)"))
        assert re.search(rf"<code>psnr</code></td>\s*<td>{psnr}</td>", page)
        assert f"<code>rev-{run}</code>" in page and f"rev-{other}" not in page


def test_the_time_and_class_grids_stand_side_by_side_under_the_headline():
    page = render(PARAMS, run_metrics(0.61, 0.011, 0.71, 0.9125),
                  {"fd_time": 54.7, "fd_floor": 21.8, "acc_cfg": 0.995, "fd_cfg": None}, "rev", profile_text("quick"),
                  SHOWN)
    glance = page[page.index('<div id="glance"'):page.index("</div>", page.index('<div id="glance"'))]
    assert page.index('id="headline"') < page.index('id="glance"') < page.index('<h2 id="part-a"')
    assert re.findall(r'<img src="([^"]+)"', glance) == ["ddpm_time/samples_final.png", "ddpm_class/samples_final.png"]
    assert "judge distance 54.7 (floor 21.8)" in glance and "judged right 0.995, distance not measured" in glance


def report_stage(cwd: Path):
    """stages/report.py as dvc runs it, in `cwd`."""
    return run_stage(["report.py"], cwd, PYTHONPATH=str(ROOT / "src"))


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A working directory holding one run: params.yaml, every metric file, the headline and every figure."""
    metrics = run_metrics(0.61, 0.011, 0.71, 0.9125)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(RAW, sort_keys=False))
    files = {**{name: m.text() for name, m in metrics.items()}, SUMMARY: headline_file(psnr=20.5),
             **{src: "figure" for src in figure_sources(PARAMS, metrics)}}
    for name, text in files.items():
        (tmp_path / "reports" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "reports" / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path, metrics


def test_the_report_stage_renders_the_workspace_run(run_dir):
    """The stage writes the page that render lays out from the files of the working directory's run (a folder
    outside git here, so the revision it names is unknown)."""
    tmp_path, metrics = run_dir
    assert report_stage(tmp_path).returncode == 0
    assert (tmp_path / "reports/index.html").read_text() == render(
        PARAMS, metrics, json.loads(headline_file(psnr=20.5)), "unknown (not a git checkout)",
        profile_text(PARAMS.profile), SHOWN)


def test_the_report_stage_names_every_missing_input(run_dir):
    """Missing metric files and headline are named together, then missing figures, so one run says what to make."""
    tmp_path, metrics = run_dir
    for name in ("judge/metrics.json", SUMMARY):
        (tmp_path / "reports" / name).unlink()
    out = report_stage(tmp_path)
    assert out.returncode == 1 and "['reports/judge/metrics.json', 'reports/summary.json']" in out.stderr
    (tmp_path / "reports/judge/metrics.json").write_text(metrics["judge/metrics.json"].text())
    (tmp_path / "reports" / SUMMARY).write_text(headline_file())
    for src in ("parta/blur.png", "samplers/samplers.png"):
        (tmp_path / "reports" / src).unlink()
    out = report_stage(tmp_path)
    assert out.returncode == 1 and "['parta/blur.png', 'samplers/samplers.png']" in out.stderr


def test_every_part_a_experiment_has_a_caption_and_no_caption_is_left_over():
    """The report heads and captions each experiment of config/experiments.py from reporting/parta_captions.py: a new
    experiment without its caption, or a caption of an experiment that is gone, fails here by name."""
    from difflab.config.experiments import PART_A
    from difflab.reporting.parta_captions import CAPTIONS

    names = [e.name for e in PART_A]
    assert [n for n in names if n not in CAPTIONS] == [] and [n for n in CAPTIONS if n not in names] == []
