"""The whole DAG end to end on tiny synthetic digits (tests/tiny_dag.py: built once per run by `dvc repro`, one stage at
a time): every output there and sound, the report page, the stages side by side in a fresh clone giving the same
bytes, a first quick run in a fresh clone, two machines sharing a sweep, a seeded rerun. The tests of this module
share one copy of the built DAG (conftest.py: repo); test_pipeline_experiments.py has its own, beside it."""

import json
import math
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from difflab.reporting.summary import HEADLINE

from conftest import in_a_terminal
from tiny_dag import FIGURES, chromium_page, declared_stages, environment, run, stages_run

pytestmark = pytest.mark.slow


def test_repro_builds_every_output(dag, repo):
    log = dag.log
    stages = declared_stages(repo)
    assert stages_run(log) == set(stages) and {"parta@sample", "parta_flow@factorized"} <= set(stages)
    for stage in stages.values():
        for entry in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", []):
            path = repo / (entry if isinstance(entry, str) else next(iter(entry)))
            assert path.exists() and (path.is_dir() or path.stat().st_size > 0), path

    ood = json.loads((repo / "reports/denoiser/ood.json").read_text())
    assert set(ood) == {f"sigma_{s}" for s in [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]}
    assert all(math.isfinite(m["mse"]) and math.isfinite(m["psnr_db"]) for m in ood.values())
    assert ood["sigma_1.0"]["noisy_mse"] > ood["sigma_0.2"]["noisy_mse"]
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], repo))
    shown = json.dumps(metrics)
    assert "reports/ddpm_class/train/metrics.json" in shown and "NaN" not in shown and "Infinity" not in shown
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo)

    # the headline gathers the numbers of the other metric files
    summary = json.loads((repo / "reports/summary.json").read_text())
    evals = json.loads((repo / "reports/ddpm_class/eval.json").read_text())
    assert summary["profile"] == "paper" and summary["psnr"] == round(ood["sigma_0.5"]["psnr_db"], 2)
    assert summary["acc_cfg"] == round(evals["cfg_3.0"]["judge_accuracy"], 3)
    assert all(summary[k] > 0 for k in ("s_denoiser", "s_time", "s_class"))
    flow = json.loads((repo / "reports/flow_time/eval.json").read_text())
    assert summary["fd_flow_time"] == round(flow["fd_to_test"], 1)
    assert summary["acc_flow"] is None  # flow_class.guidance_scale 5 is not among the tiny eval.guidance_scales
    # flow matching: samples after each saved epoch (1 and 2 for the time model), models at those epochs
    assert sorted(p.name for p in (repo / "reports/flow_time/samples").iterdir()) == ["samples_epoch1.png",
                                                                                     "samples_final.png"]
    assert sorted(p.name for p in (repo / "models/flow_time").glob("*.safetensors")) == ["epoch1.safetensors",
                                                                                         "final.safetensors"]
    # the comparison: each model final and both at epoch 1, the only epoch they share, at 2 and 4 steps
    compared = json.loads((repo / "reports/objectives/metrics.json").read_text())
    assert {k: v["epoch"] for k, v in compared.items() if isinstance(v, dict)} == {
        "ddpm_final": 1, "flow_final": 1, "ddpm_equal_epochs": 1, "flow_equal_epochs": 1}
    assert set(compared["flow_final"]) == {"epoch", "steps_2", "steps_4"}
    samplers = json.loads((repo / "reports/samplers/metrics.json").read_text())
    assert set(samplers["ddim"]) == set(samplers["fixed_small"]) == set(samplers["fixed_large"]) == {"steps_2",
                                                                                                     "steps_4"}
    noise = json.loads((repo / "reports/pure_noise/metrics.json").read_text())
    assert 0 < noise["rms_between_outputs"] < noise["rms_digit_to_mean_digit"]


def test_stages_side_by_side_give_what_dvc_repro_gave_one_at_a_time(repo, tmp_path):
    """workflow/parallel.py in a fresh clone with a cache of its own (nothing to restore), two stages at a time, for
    what seven targets need: a stage of every script that computes (the data, a UNet's and the judge's training, the
    diffusion model's training, sampling and judged evaluation, the denoiser's figures and evaluation, the prompts,
    part A on the DDPM (one experiment) and its evaluation, a comparison), 12 of the 56. Every output it records equals the
    one-at-a-time run's, byte for byte, but the wall times in the training metrics. (What is left out only repeats
    these scripts with other params, or gathers their numbers: summary, report. The whole DAG side by side:
    bench/paper_rehearsal.sh.)"""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    shutil.copytree(repo / "data" / "mnist-local", clone / "data" / "mnist-local")
    targets = ["denoiser_figures", "eval_ood", "sample_ddpm_class", "eval_ddpm_class", "compare_samplers",
               "parta@iterative", "eval_parta"]
    log = run([sys.executable, "-m", "difflab.workflow.parallel", "--jobs", "2", *targets], clone)
    needed = stages_run(log)
    assert "FAILED" not in log and "[12/12]" in log
    assert needed == {"download_mnist", "train_denoiser", "train_ddpm_class", "train_judge", "embed_prompts",
                      *targets}

    def outs(path: Path) -> dict[str, str]:
        timed = re.compile(r"train/metrics\.json$")
        return {o["path"]: o["md5"] for name, stage in yaml.safe_load(path.read_text())["stages"].items()
                if name in needed for o in stage.get("outs", []) if not timed.search(o["path"])}
    assert outs(clone / "dvc.lock") == outs(repo / "dvc.lock") and len(outs(repo / "dvc.lock")) > 20


def test_report_page_in_a_real_browser(repo, tmp_path):
    """reports/index.html in headless Chromium: it loads, every image decodes, every link resolves."""
    with chromium_page(repo / "reports" / "index.html") as (page, images):
        assert page.title() == "difflab: fun with diffusion models"
        assert len(images) >= FIGURES
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        assert links and all(h.startswith("#") and h[1:] in ids for h in links), links
        body = page.inner_text("body")
        assert "test_accuracy" in body and "fd_to_test" in body and "anagram_identity-6_flip-9.success" in body
        # it leads with the results: the profile that ran, then the headline beside its goals
        headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.innerText)")
        assert headings[0] == "Results: the paper profile" and headings[1].startswith("Part A")
        headline = page.eval_on_selector_all("#headline tr", "rows => rows.map(r => r.innerText)")
        assert len(headline) == 1 + len(HEADLINE) and "acc_cfg" in headline[5] and ">= 0.99" in headline[5]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_a_first_quick_run_in_a_fresh_clone_reads_at_80_and_120_columns(repo, tmp_path):
    """The table every new user meets: a fresh clone, `make run`'s quick-profile experiment (a tiny quick profile
    here), then `make compare` read in a terminal and as a log, 80 and 120 columns wide: the profile column, the
    headline, no knob (the run is its profile), no line over the width, nothing collapsed. The clone's branch holds
    the tiny run's dvc.lock and shares its cache, so `make run` (its stages side by side, then `dvc exp run`) runs
    what the profile's two knobs touch and restores the rest: the table is the point here, not the 28 stages (the
    build ran them; a clone with no lock reruns them all, as the side-by-side test's clone does its 12)."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    shutil.copytree(repo / "data" / "mnist-local", clone / "data" / "mnist-local")  # git-ignored, like a download
    run_files = run(["git", "ls-files", "--others", "--exclude-standard"], repo).split()  # dvc.lock, uncached outs
    assert "dvc.lock" in run_files
    for name in run_files:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / name, clone / name)
    (clone / "profiles" / "quick.txt").write_text("profile=quick\nddpm_time.gif_every=40\n")
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "the tiny run, and a tiny quick profile"], clone)
    run(["dvc", "cache", "dir", "--local", str(repo / ".dvc" / "cache")], clone)  # what matches comes from there
    log = run([sys.executable, "-m", "difflab.workflow.run", "quick"], clone)
    assert stages_run(log) == {"sample_ddpm_time", "summary", "report"}  # what the profile's two knobs touch
    compare = [sys.executable, "-m", "difflab.reporting.compare"]
    summary = json.loads((clone / "reports/summary.json").read_text())
    for columns in (80, 120):
        log_file = run(compare, clone, COLUMNS=str(columns))
        terminal = in_a_terminal(compare, clone, columns, environment(clone))
        for text in (terminal, log_file):
            lines = text.splitlines()
            assert max(map(len, lines)) <= columns and "…" not in text, text
            assert lines[0].split() == ["run", "profile", "psnr", "fd_time", "acc_cfg", "fd_cfg"], text
            assert "No run differs from its profile" in text and "changed" not in text, text
            rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.split()[1:2] in (["quick"],
                                                                                                  ["paper"])}
            assert rows["workspace"][0] == "quick" and len(rows) == 3, text  # workspace, the branch, the experiment
            assert rows["workspace"][1:] == [f"{summary['psnr']:.2f}", f"{summary['fd_time']:.1f}",
                                             "-" if summary["acc_cfg"] is None else f"{summary['acc_cfg']:.3f}",
                                             "-" if summary["fd_cfg"] is None else f"{summary['fd_cfg']:.1f}"]
            assert sorted(profile for profile, *_ in rows.values()) == ["paper", "quick", "quick"]


def test_two_machines_share_a_sweep_through_a_git_and_a_dvc_remote(repo, tmp_path):
    """A team's set-up on one disk: a bare git repository (the team's git server) and the folder ../dvc-storage that
    every clone's default DVC remote names. Machine A runs an experiment and `dvc exp push`es it; machine B
    runs its own, `dvc exp pull`s A's, and `make compare` and the comparison page show both, A's outputs byte for
    byte as A made them (from the DVC remote: B never ran A's stages)."""
    origin = tmp_path / "team.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "shared baseline", "--allow-empty"], repo)
    run(["git", "push", "-q", str(origin), "HEAD:refs/heads/main"], repo)
    run(["dvc", "remote", "add", "--local", "team", str(tmp_path / "dvc-storage")], repo)
    run(["dvc", "push", "-r", "team"], repo)  # the baseline's outputs, where both clones' default remote points
    a, b = tmp_path / "a", tmp_path / "b"
    for machine in (a, b):
        run(["git", "clone", "-q", "-b", "main", str(origin), str(machine)], tmp_path)
        run(["dvc", "pull"], machine)

    # a knob that reruns two stages (sample_ddpm_class, report): what is shared matters here, not what runs
    run(["dvc", "exp", "run", "-n", "from-a", "-S", "ddpm_class.gif_every=20"], a)  # (the queue: its own test)
    run(["dvc", "exp", "push", "origin", "from-a"], a)  # the git refs to origin, the outputs to the DVC remote
    run(["dvc", "exp", "run", "-n", "from-b", "-S", "ddpm_class.gif_every=30"], b)
    run(["dvc", "exp", "pull", "origin", "from-a"], b)

    table = run([sys.executable, "-m", "difflab.reporting.compare"], b, COLUMNS="120")
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.startswith("  ")}
    assert rows["from-a"][6:] == ["ddpm_class.gif_every=20"] and rows["from-b"][6:] == [
        "ddpm_class.gif_every=30"], table  # (the baseline's is neither)
    page = run([sys.executable, "-m", "difflab.reporting.compare", "--page", "from-a", "from-b"], b)
    assert "compare/from-a_vs_from-b/index.html" in page
    shown = b / "compare" / "from-a_vs_from-b" / "from-a"
    grid = next(p for p in shown.rglob("reverse.gif") if "ddpm_class" in str(p))  # the reverse process' film
    theirs = b / "compare" / "from-a_vs_from-b" / "from-b" / grid.relative_to(shown)
    assert theirs.read_bytes() != grid.read_bytes()  # two runs, a frame every 20 and every 30 steps: two films
    run(["dvc", "exp", "apply", "from-a"], a)
    made = a / "reports" / grid.relative_to(shown)
    assert grid.read_bytes() == made.read_bytes()


def test_seeded_rerun_gives_identical_outputs(repo):
    lock_before = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert not list(repo.glob("checkpoints/**/*.pt"))  # a finished stage leaves no training state to resume
    log = run(["dvc", "repro", "--force", "--single-item", "train_ddpm_class"], repo)
    assert stages_run(log) == {"train_ddpm_class"} and "resuming" not in log
    lock_after = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    # every output is byte-identical but the training time, in the metrics (train.seconds)
    results = [[o for o in lock["train_ddpm_class"]["outs"] if not o["path"].endswith("metrics.json")]
               for lock in (lock_before, lock_after)]
    assert results[0] == results[1] and len(results[0]) >= 3
    # so at most the headline (which shows training seconds, to 0.01 s) and the page showing it are out of date; and
    # a part A edit reruns only the experiments that read it: a changed prompt reruns embed_prompts, which rewrites
    # every experiment's conditions file, but only the changed experiment's differs, so that experiment alone reruns;
    # a flow model's knob of one experiment reruns that experiment's stage (and the report), nothing else
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["parta"]["mnist"]["cfg"]["prompts"] = ["1", "7"]
    params["parta"]["mnist_flow"]["iterative"]["t_start"] = 0.25
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = stages_run(run(["dvc", "repro"], repo))
    assert ran - {"summary"} == {"embed_prompts", "parta@cfg", "parta_flow@iterative", "report"}, ran
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo)

