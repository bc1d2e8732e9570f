"""The published reference run (results/paper-h200-2026-12-04, reporting/reference.py): the folder holds what its
README lists, its headline follows from its metric files, DVC's commit of the run holds the same files, the cost
record is its stage times, and every number the docs quote is the file's."""

import json
import re
import subprocess

import pytest
import yaml
from helpers import ROOT

from difflab.reporting.reference import goal_table, of_profile, published, quoted
from difflab.reporting.summary import headline, read_metrics
from difflab.workflow import cost

NAME = "paper-h200-2026-12-04"
FOLDER = ROOT / "results" / NAME
COMMIT = "4cb6845"  # the run as DVC records one (dvc.lock and metric files at their paths): tag paper-h200-2026-12-04


def summary() -> dict:
    return json.loads((FOLDER / "reports" / "summary.json").read_text())


def test_the_folder_holds_exactly_the_files_its_readme_lists():
    listed = re.findall(r"^\| `([^`]+)` \|", (FOLDER / "README.md").read_text(), re.M)
    present = {p.relative_to(FOLDER).as_posix() for p in FOLDER.rglob("*") if p.is_file()} - {"README.md"}
    assert sorted(listed) == sorted(set(listed)) and set(listed) == present
    assert not [p for p in present if p.endswith(".gif")]  # the GIFs stay out of git
    assert sum(p.stat().st_size for p in FOLDER.rglob("*")) < 3 * 2 ** 20


def test_its_headline_is_what_the_summary_stage_makes_of_its_metric_files():
    """A summary.json copied from another run, or a metric file from another, would not agree: the summary stage
    writes the file's bytes from the run's metric files."""
    params = yaml.safe_load((FOLDER / "params.yaml").read_text())
    made = headline(read_metrics(FOLDER), params["profile"], params["denoiser"]["sigma"],
                    params["ddpm_class"]["guidance_scale"], params["flow_class"]["guidance_scale"])
    assert made.text() == (FOLDER / "reports" / "summary.json").read_text()
    lock = yaml.safe_load((FOLDER / "dvc.lock").read_text())
    assert len(lock["stages"]) == 41 and len(json.loads((FOLDER / "stage_times.json").read_text())["stages"]) == 41


def test_dvcs_commit_of_the_run_holds_the_published_files():
    """`dvc metrics diff paper-h200-2026-12-04` (docs) reads the commit: it must be the published run."""
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
    if shallow == "true":
        pytest.skip("a shallow clone has no history to hold the run's commit")

    def at_commit(path: str) -> str:
        out = subprocess.run(["git", "show", f"{COMMIT}:{path}"], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    for path in ("dvc.lock", "params.yaml", *(p.relative_to(FOLDER).as_posix() for p in
                                              (FOLDER / "reports").rglob("*.json"))):
        assert at_commit(path) == (FOLDER / path).read_text(), path


def test_the_paper_cost_record_is_the_published_runs_stage_times_under_todays_names(tmp_path):
    """profiles/paper.cost.json is the published run's stage times carried over to dvc.yaml's stages (cost.for_stages:
    the run's time where it timed the stage, else the same experiment's on the other part A model, else a median of
    its siblings): every stage of today's DAG has a cost, the run's wall time is kept."""
    from helpers import resolved_stages

    record = json.loads((ROOT / "profiles" / "paper.cost.json").read_text())
    cost.record_stage_times("paper", json.loads((FOLDER / "stage_times.json").read_text()), None, record["machine"],
                            "bf16", "2026-12-04", "cuda", tmp_path)
    stages = list(resolved_stages())
    assert cost.for_stages(json.loads((tmp_path / "paper.cost.json").read_text()), stages) == record
    assert set(record["stages"]) == set(stages) - {"download_mnist"}
    assert record["jobs"] == 8 and record["wall"] == 441.2 and record["untimed"] == ["download_mnist"]


def test_a_record_is_carried_over_to_new_stage_names():
    record = {"wall": 100.0, "stages": {"a": 5.0, "g@x": 1.0, "g@y": 3.0, "g@z": 2.0, "gone": 9.0},
              "untimed": ["d"]}
    carried = cost.for_stages(record, ["a", "d", "g@x", "g@new", "h@x", "h@y", "k@other"])
    assert carried["stages"] == {"a": 5.0, "g@x": 1.0, "g@new": 2.0, "h@x": 1.0, "h@y": 3.0, "k@other": 2.0}
    assert carried["derived"] == {"g@new": "the median of g@*", "h@x": "g@x", "h@y": "g@y",
                                  "k@other": "the median of every @ stage"}
    assert carried["wall"] == 100.0
    with pytest.raises(ValueError, match="stage b: not timed"):
        cost.for_stages(record, ["b"])


def test_compare_finds_the_reference_of_each_profile(tmp_path):
    refs = published(ROOT / "results")
    assert [r.name for r in refs] == [NAME] and of_profile("paper", refs).summary == summary()
    assert of_profile("quick", refs) is None and published(tmp_path / "none") == []


def test_numbers_are_quoted_with_their_interval_rates_in_percent():
    s = {"profile": "paper", "acc_cfg": 0.995, "acc_cfg_lo": 0.98, "acc_cfg_hi": 1.0, "acc_cfg_n": 200,
         "fd_time": 60.0, "fd_time_lo": 50.5, "fd_time_hi": 69.5, "fd_time_n": 1000, "fd_floor": 17.7,
         "psnr": 19.5}
    assert quoted(s, "acc_cfg") == "99.5 % [98, 100]" and quoted(s, "fd_time") == "60 [50.5, 69.5]"
    assert quoted(s, "psnr") == "19.5"  # no interval: the number alone
    lines = goal_table(s).splitlines()
    assert lines[0] == "| headline | value [95 % interval] | n | goal | verdict |"
    rows = {line.split("`")[1]: [c.strip() for c in line.split("|")[2:6]] for line in lines[2:]}
    assert rows["psnr"] == ["19.5", "", ">= 20", "missed"]  # no interval: read on the number
    assert rows["fd_time"] == ["60 [50.5, 69.5]", "1,000", "<= 3 x fd_floor (53.1)", "within noise"]
    assert rows["acc_cfg"] == ["99.5 % [98, 100]", "200", ">= 0.99", "within noise"]
    assert set(rows) == {"psnr", "fd_time", "fd_floor", "acc_cfg"}  # what the run measured, nothing else


def test_the_docs_quote_the_published_numbers():
    """A number in the docs that drifts from summary.json (a rerun published, a typo) fails here."""
    s = summary()
    results = (ROOT / "docs" / "results.md").read_text()
    assert goal_table(s) in results
    readme = (ROOT / "README.md").read_text()
    for key in ("acc_cfg", "fd_time", "fd_floor"):
        assert quoted(s, key) in readme, key
    for page in (readme, results):
        assert "7 min 21 s" in page  # the wall time of stage_times.json
    assert json.loads((FOLDER / "stage_times.json").read_text())["wall"] == 441.2
