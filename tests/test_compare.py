"""`make compare` (difflab/reporting/compare.py): each run against its own profile, and a table that keeps every
column within the width it is given. DVC's JSON is written here in the shape `dvc exp show --json` gives it
(tests/test_pipeline.py reads the real thing)."""

import copy
import re

import pytest
import yaml
from helpers import headline_file

from difflab.reporting.compare import SHOWN, Run, changed, columns_of, main, profile_params, render, runs

BASE = "0123456789abcdef0123456789abcdef01234567"
PAPER = {"profile": "paper", "seed": 2718, "denoiser": {"hidden": 128, "epochs": 5, "lr": 1e-3},
         "ddpm_class": {"hidden": 128, "guidance_scale": 5.0, "ema_decay": 0.0},
         "eval": {"guidance_scales": [0.0, 1.0, 3.0, 5.0, 7.0]}}
QUICK_TXT = """# the quick profile
profile=quick
denoiser.hidden=16
denoiser.lr=2.0e-3  # PyYAML reads this as a number, 3e-3 as a string: both are the same param
ddpm_class.ema_decay=0.999
eval.guidance_scales=[0.0,1.0,3.0]
"""


def quick():
    p = copy.deepcopy(PAPER)
    p.update(profile="quick")
    p["denoiser"].update(hidden=16, lr="2e-3")
    p["ddpm_class"]["ema_decay"] = 0.999
    p["eval"]["guidance_scales"] = [0.0, 1.0, 3.0]
    return p


def read(rev, path):
    assert rev in ("HEAD", BASE), rev  # the workspace's runs are compared with HEAD
    return {"params.yaml": yaml.safe_dump(PAPER), "profiles/quick.txt": QUICK_TXT}.get(path)


def state(rev, params, metrics=None, name=None):
    data = {"params": {"params.yaml": {"data": params}},
            "metrics": {} if metrics is None else {"reports/summary.json": {"data": metrics}}}
    return {"rev": rev, "name": name, "data": data, "error": None, "experiments": None}


def exp(name, params, metrics=None, executor=None):
    return {"revs": [state(name[::-1] * 4, params, metrics, name)], "executor": executor, "name": name}


def with_(params, **sections):
    p = copy.deepcopy(params)
    for section, values in sections.items():
        p[section].update(values)
    return p


HEADLINE = {"profile": "quick", "psnr": 20.47, "fd_time": 91.9, "acc_cfg": 1.0, "fd_cfg": 48.2}


def shown():
    """A user's repository after `make run` (a quick experiment, applied to the workspace), a CFG experiment on top
    of it, a paper run with a longer denoiser, and one still queued."""
    guided = with_(quick(), ddpm_class={"guidance_scale": 3.0})
    return [state("workspace", guided, dict(HEADLINE, acc_cfg=0.995)),
            dict(state(BASE, PAPER, None, "main"), experiments=[
                exp("first-run", quick(), HEADLINE),
                exp("cfg-three", guided, dict(HEADLINE, acc_cfg=0.995)),
                exp("longer", with_(PAPER, denoiser={"epochs": 6}), dict(HEADLINE, profile="paper")),
                {"revs": [{"rev": "f" * 40, "name": "waiting", "data": None, "error": None, "experiments": None}],
                 "executor": {"state": "queued", "name": None, "local": None}, "name": "waiting"}])]


def test_each_run_is_compared_with_its_own_profile():
    rows = {r.name.strip(): r for r in runs(shown(), read)}
    assert list(rows) == ["workspace", "main", "first-run", "cfg-three", "longer", "waiting (queued)"]
    assert rows["first-run"].changes == [] and rows["first-run"].profile == "quick"  # a new user's first run
    assert rows["main"].changes == [] and rows["main"].profile == "paper"
    assert rows["cfg-three"].changes == rows["workspace"].changes == ["ddpm_class.guidance_scale=3.0"]
    assert rows["longer"].changes == ["denoiser.epochs=6"] and rows["longer"].profile == "paper"
    assert rows["first-run"].metrics["psnr"] == 20.47 and rows["main"].metrics == {}
    assert rows["waiting (queued)"].changes == [] and rows["waiting (queued)"].profile == "?"


def test_the_quick_reference_is_the_baseline_commits_profile():
    ref = profile_params("quick", BASE, read)
    assert ref["denoiser"] == {"hidden": 16, "epochs": 5, "lr": 2e-3} and ref["profile"] == "quick"
    assert ref["eval"]["guidance_scales"] == [0.0, 1.0, 3.0] and ref["ddpm_class"]["ema_decay"] == 0.999
    assert profile_params("paper", "workspace", read) == PAPER
    assert profile_params("quick", BASE, lambda rev, path: None) is None  # a commit before params.yaml


@pytest.mark.parametrize("a, b, differ", [(1e-3, "1e-3", False), (3, 3.0, False), (0.5, 0.25, True),
                                          ([1, 2], [1, 2, 3], True), (True, 1, True), ("cpu", "auto", True)])
def test_a_param_differs_by_value_not_by_spelling(a, b, differ):
    assert bool(changed({"x": {"k": a}}, {"x": {"k": b}})) == differ


def test_keys_only_one_side_has_are_named():
    assert changed({"a": {"new": 1}, "b": 2}, {"b": 2, "c": {"gone": 3}}) == ["a.new=1", "c.gone=(none)"]


@pytest.mark.parametrize("width", [80, 120])
def test_the_table_keeps_every_column_within_the_width(width):
    rows = runs(shown(), read)
    rows.append(Run("  many-knobs", "paper", HEADLINE, [f"ddpm_class.knob_{i}={i}" for i in range(9)]))
    text = render(rows, width)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width and "…" not in text
    assert lines[0].split()[:6] == ["run", "profile", *SHOWN]
    row = next(line for line in lines if line.startswith("  first-run"))
    assert row.split() == ["first-run", "quick", "20.47", "91.9", "1.000", "48.2"]  # no knob: nothing after
    cfg = next(line for line in lines if line.startswith("  cfg-three"))
    assert "ddpm_class.guidance_scale=3.0" in text and "0.995" in cfg
    assert sum("ddpm_class.knob_" in line for line in lines) > 1  # nine knobs wrap over several lines
    assert all(f"ddpm_class.knob_{i}={i}" in text for i in range(9))
    if width == 120:  # room for a column of changes beside the numbers
        assert lines[0].endswith("changed from its profile") and "guidance_scale=3.0" in cfg
    else:  # at 80 they go below their run, indented
        assert lines[lines.index(cfg) + 1].strip() == "changed: ddpm_class.guidance_scale=3.0"


@pytest.mark.parametrize("width", [40, 80])
def test_a_change_longer_than_a_line_still_fits(width):
    long = "parta.mnist.anagram.pairs=" + "[" + ",".join(["[6,9]"] * 16) + "]"  # 123 characters
    text = render([Run("  sweep", "quick", HEADLINE, [long, "seed=1"])], width)
    assert max(map(len, text.splitlines())) <= width and "seed=1" in text
    assert "".join(line.strip() for line in text.splitlines()).count("[6,9]") == 16


def test_a_first_run_has_no_changes_column():
    text = render([r for r in runs(shown(), read) if r.name.strip() in ("main", "first-run")], 80)
    assert "changed" not in text.splitlines()[0] and "No run differs from its profile" in text
    assert max(map(len, text.splitlines())) <= 80


def test_narrower_than_the_numbers_each_run_is_a_paragraph():
    text = render(runs(shown(), read), 40)
    assert max(map(len, text.splitlines())) <= 40
    words = " ".join(text.split())
    assert "cfg-three (quick): psnr 20.47, fd_time 91.9, acc_cfg 0.995, fd_cfg 48.2; changed: ddpm_class." \
           "guidance_scale=3.0 longer (paper)" in words


def test_the_part_a_columns_put_the_ddpm_beside_the_flow_model(tmp_path, capsys):
    """--show parta: each part A rate of the class DDPM beside the class flow model's ("-" for a run from before the
    flow model's part A), every row of the seed sweep's means too; a bad --show is refused naming what is allowed."""
    rates = dict(HEADLINE, anagram=0.61, anagram_flow=0.7, hybrid=0.2, hybrid_flow=0.25, inpaint=0.5,
                 inpaint_flow=0.55, sdedit=0.25, sdedit_flow=0.35)
    base = dict(state(BASE, quick(), rates, "main"),
                experiments=[exp("older", with_(quick(), denoiser={"lr": 1e-3}), HEADLINE)])
    lines = render(runs([base], read), 120, columns_of("parta")).splitlines()
    assert lines[0].split()[:10] == ["run", "profile", "anagram", "anagram_flow", "hybrid", "hybrid_flow", "inpaint",
                                     "inpaint_flow", "sdedit", "sdedit_flow"]
    row = {line.split()[0]: line.split()[1:10] for line in lines[2:] if line.startswith(("main", "  older"))}
    assert row["main"] == ["quick", "0.610", "0.700", "0.200", "0.250", "0.500", "0.550", "0.250", "0.350"]
    assert row["older"] == ["quick"] + ["-"] * 8
    assert "anagram_flow: part A on the flow model: anagram success, mean over pairs" in " ".join(lines)
    assert columns_of("models") == SHOWN and columns_of("psnr, acc_flow") == ("psnr", "acc_flow")
    for bad, message in (("parts", "--show 'parts': parts; allowed: one of models, flow, parta, or headline"),
                         ("psnr,profile", "--show 'psnr,profile': profile; allowed"),
                         ("psnr,psnr", "--show 'psnr,psnr': a column twice; allowed")):
        with pytest.raises(ValueError, match=re.escape(message)):
            columns_of(bad)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    with pytest.raises(SystemExit) as stop:
        main(["--params", str(tmp_path / "params.yaml"), "--show", "parts"])
    assert stop.value.code == 2 and "--show 'parts': parts; allowed" in capsys.readouterr().err


def with_intervals(fd_time, half, **more):
    return dict(HEADLINE, fd_time=fd_time, fd_time_lo=fd_time - half, fd_time_hi=fd_time + half, fd_time_n=200, **more)


def test_a_difference_is_marked_only_where_the_intervals_say_it_is_one():
    """Against the baseline's fd_time 91.9 [86.9, 96.9]: 75.2 [70.2, 80.2] is apart (*), 88.0 [83.0, 93.0] overlaps
    (~); a run without intervals (an old one) gets no mark, nor one whose number is the baseline's."""
    base = dict(state(BASE, quick(), with_intervals(91.9, 5.0), "main"), experiments=[
        exp("apart", with_(quick(), denoiser={"lr": 1e-3}), with_intervals(75.2, 5.0)),
        exp("close", with_(quick(), denoiser={"lr": 2e-3}), with_intervals(88.0, 5.0)),
        exp("old", with_(quick(), denoiser={"lr": 4e-3}), dict(HEADLINE, fd_time=60.0)),
        exp("same", with_(quick(), denoiser={"lr": 5e-3}), with_intervals(91.9, 5.0))])
    text = render(runs([state("workspace", quick(), with_intervals(80.0, 1.0)), base], read), 120)
    cell = {line.split()[0]: line.split()[3] for line in text.splitlines()[2:] if len(line.split()) > 3}
    assert (cell["apart"], cell["close"], cell["old"], cell["same"]) == ("75.2*", "88.0~", "60.0", "91.9")
    assert cell["workspace"] == "80.0*" and cell["main"] == "91.9"  # the workspace against its commit
    assert "* differs from its baseline beyond noise" in text and "~ within noise" in text


def test_runs_that_differ_only_in_seed_get_their_mean_and_spread():
    seeds = [exp(f"seed-{k}", dict(quick(), seed=k), dict(HEADLINE, fd_time=v, psnr=20.0 + k / 10))
             for k, v in ((2718, 70.0), (2719, 80.0), (2720, 90.0))]  # 2718: the profile's own seed
    other = exp("lr", dict(with_(quick(), denoiser={"lr": 1e-3}), seed=4), dict(HEADLINE, fd_time=50.0))
    text = render(runs([dict(state(BASE, quick(), HEADLINE, "main"), experiments=[*seeds, other])], read), 120)
    line = next(line for line in text.splitlines() if line.startswith("  mean of 3 seeds"))
    # fd_time 70, 80, 90: mean 80.0, sample sd 10.0; psnr 291.8, 291.9, 292.0: 291.90 +- 0.10
    assert line.split()[4:8] == ["quick", "291.90+-0.10", "80.0+-10.0", "1.000+-0.000"]
    assert "seed in 2718,2719,2720" in line
    assert sum(line.startswith("  mean of") for line in text.splitlines()) == 1  # lr differs in more than seed
    again = exp("seed-2718-again", dict(quick(), seed=2718), HEADLINE)  # a rerun of one seed is no sweep
    text = render(runs([dict(state(BASE, quick(), HEADLINE, "main"), experiments=[seeds[0], again])], read), 120)
    assert "mean of" not in text


@pytest.mark.slow
def test_the_runs_come_from_dvc_in_this_process(tmp_path, monkeypatch):
    """experiments() reads what `dvc exp show --json` prints, its options read by DVC's own parser, without a `dvc`
    process: the workspace and the commit it is on, each with its params and headline. A commit whose headline is
    random bytes (where `dvc exp show --json` itself stops on an error it cannot copy) is named, with the reason."""
    from dvc.cli import DvcParserError
    from dvc.repo import Repo

    from difflab.errors import DamagedFile
    from difflab.reporting.compare import experiments

    (tmp_path / "reports").mkdir()
    _git(tmp_path, "init", "-q")
    Repo.init(str(tmp_path)).close()
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - reports/summary.json\n")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PAPER))
    (tmp_path / "reports" / "summary.json").write_bytes(bytes(range(256)))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "a run whose headline was damaged")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_(PAPER, denoiser={"epochs": 6})))
    (tmp_path / "reports" / "summary.json").write_text(headline_file(psnr=20.47, fd_time=91.9))
    monkeypatch.chdir(tmp_path)
    workspace, commit = experiments(["-n", "1"])
    assert workspace["rev"] == "workspace" and len(commit["rev"]) == 40
    assert workspace["data"]["params"]["params.yaml"]["data"]["denoiser"]["epochs"] == 6  # typed as in the file
    assert workspace["data"]["metrics"]["reports/summary.json"]["data"]["psnr"] == 20.47
    error = commit["data"]["metrics"]["reports/summary.json"]["error"]
    assert error["type"] == "EncodingError" and "utf-8" in error["msg"]
    with pytest.raises(DamagedFile, match=rf"^reports/summary.json of {commit['rev'][:7]}: not a readable metric "
                                          r"file \(EncodingError: "):
        runs([workspace, commit], read)
    with pytest.raises(DvcParserError):
        experiments(["--no-such-option"])


# -- the comparison page's files: each run's own, through one DVC repository per run ------------------------------

def _git(repo, *args):
    import subprocess

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    """A git + DVC repository whose HEAD ran with guidance 3 (params.yaml in git, reports/ in DVC) and whose
    workspace has since run with guidance 5: other metrics, another figure, one figure fewer."""
    from dvc.repo import Repo

    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    _git(repo, "init", "-q")
    Repo.init(str(repo)).close()
    (repo / "params.yaml").write_text("ddpm_class:\n  guidance_scale: 3.0\n")
    (repo / "reports" / "summary.json").write_text('{"psnr": 20.5}')
    (repo / "reports" / "grid.png").write_bytes(b"\x89PNG HEAD's grid")
    (repo / "reports" / "only_head.png").write_bytes(b"\x89PNG HEAD only")
    with Repo(str(repo)) as r:
        r.add([str(repo / "reports" / n) for n in ("summary.json", "grid.png", "only_head.png")])
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a run")
    for name in ("params.yaml", "reports/summary.json", "reports/grid.png", "reports/only_head.png"):
        (repo / name).unlink()  # (a DVC output may be a link into the cache: never written through)
    (repo / "params.yaml").write_text("ddpm_class:\n  guidance_scale: 5.0\n")
    (repo / "reports" / "summary.json").write_text('{"psnr": 31.25}')
    (repo / "reports" / "grid.png").write_bytes(b"\x89PNG the workspace's grid")
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.slow
def test_the_page_reads_each_runs_own_files_opening_each_run_once(two_runs, monkeypatch):
    import os
    import sys
    from pathlib import Path

    from dvc.repo import Repo

    from difflab.reporting import compare_page
    from difflab.reporting.compare_page import UnknownRun, opened_runs, read

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # `dvc exp ls`
    opened = []
    real_open = Repo.open
    monkeypatch.setattr(Repo, "open", staticmethod(lambda url, *a, **kw: opened.append(kw.get("rev")) or
                                                   real_open(url, *a, **kw)))
    with opened_runs():
        for _ in range(2):  # in either order, each run's own file, never the other's
            assert read("reports/summary.json", "HEAD") == '{"psnr": 20.5}'
            assert read("reports/summary.json", "workspace") == '{"psnr": 31.25}'
            assert read("params.yaml", "HEAD") == "ddpm_class:\n  guidance_scale: 3.0\n"
            assert read("params.yaml", "workspace") == "ddpm_class:\n  guidance_scale: 5.0\n"
            assert read("reports/grid.png", "workspace", mode="rb") == b"\x89PNG the workspace's grid"
            assert read("reports/grid.png", "HEAD", mode="rb") == b"\x89PNG HEAD's grid"
            assert read("reports/only_head.png", "HEAD", mode="rb") == b"\x89PNG HEAD only"
            assert read("reports/no_such.png", "HEAD", mode="rb") is None
            assert read("reports/no_such.png", "workspace", mode="rb") is None
        assert opened == ["HEAD", None]  # one repository per run, for all its files
        with pytest.raises(UnknownRun, match="'no-such-run' is neither a git revision nor an experiment"):
            read("params.yaml", "no-such-run")
    assert compare_page._opened is None  # closed on leaving
    opened.clear()
    assert read("reports/summary.json", "HEAD") == '{"psnr": 20.5}'  # outside: opened for the one file
    assert read("reports/summary.json", "workspace") == '{"psnr": 31.25}'
    assert opened == ["HEAD", None] and compare_page._opened is None


def test_the_page_opens_each_run_once_for_all_its_files(monkeypatch):
    from difflab.reporting import compare_page

    within = []
    monkeypatch.setattr(compare_page, "_render_comparison", lambda a, b, out: within.append(compare_page._opened))
    compare_page.render_comparison("HEAD", "workspace")
    assert within and within[0] is not None and compare_page._opened is None


def test_the_published_reference_is_a_row_of_its_own_and_marks_a_paper_run_without_a_paper_baseline(tmp_path):
    """A user's paper run on their GPU, under a commit with no numbers (a fresh clone), is marked against the
    published paper reference: fd_time 70.0 [65, 75] against 54.4 [40.8, 68.1] overlaps (~), psnr 19.50 [19.4, 19.6]
    against 20.85 [20.81, 20.88] is apart (*). The quick run beside it is not marked against the paper reference, and
    the reference's row shows its own numbers unmarked, with the knob it ran with beyond HEAD's params."""
    from difflab.reporting.reference import published

    folder = tmp_path / "results" / "paper-h200-2026-12-04"
    (folder / "reports").mkdir(parents=True)
    (folder / "reports" / "summary.json").write_text(headline_file(
        psnr=20.85, fd_time=54.4, acc_cfg=1.0, fd_cfg=53.6, psnr_lo=20.81, psnr_hi=20.88, psnr_n=10000, fd_time_lo=40.8,
        fd_time_hi=68.1, fd_time_n=1000))
    (folder / "params.yaml").write_text(yaml.safe_dump(dict(PAPER, threads=2)))
    mine = {"profile": "paper", "psnr": 19.5, "psnr_lo": 19.4, "psnr_hi": 19.6, "fd_time": 70.0, "fd_time_lo": 65.0,
            "fd_time_hi": 75.0, "acc_cfg": 0.99, "fd_cfg": 60.0}
    base = dict(state(BASE, PAPER, None, "main"), experiments=[
        exp("my-gpu-run", PAPER, mine), exp("quick-run", quick(), with_intervals(91.9, 5.0))])
    rows = runs([base], read, published(tmp_path / "results"))
    assert [r.name for r in rows] == ["main", "  my-gpu-run", "  quick-run", "paper-h200-2026-12-04 (reference)"]
    text = render(rows, 120)
    cells = {}
    for line in text.splitlines()[2:]:  # the rows, then the notes (which may start with a run's name)
        cells.setdefault(line.split()[0], line.split()[1:6])
    assert cells["my-gpu-run"] == ["paper", "19.50*", "70.0~", "0.990", "60.0"]  # no interval: no mark
    assert cells["quick-run"] == ["quick", "20.47", "91.9", "1.000", "48.2"]
    assert cells["paper-h200-2026-12-04"] == ["(reference)", "paper", "20.85", "54.4", "1.000"]
    assert "threads=2" in text.split("paper-h200-2026-12-04 (reference)")[1].splitlines()[0]
    assert ("paper-h200-2026-12-04 (reference): the published paper run in results/paper-h200-2026-12-04/"
            in " ".join(text.split()))
    assert "marked against the reference of that profile" in " ".join(text.split())
    # a paper baseline with numbers of its own stays what its experiments are marked against
    base = dict(state(BASE, PAPER, dict(mine, psnr=19.45), "main"), experiments=[exp("my-gpu-run", PAPER, mine)])
    rows = runs([base], read, published(tmp_path / "results"))
    assert rows[1].reference["psnr"] == 19.45
