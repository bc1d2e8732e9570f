"""`make run` (difflab/workflow): the arguments it hands DVC, the pre-flight that stops it, the cost it announces and
the stage times it reports, with a fake `dvc` (the real one runs in tests/test_pipeline.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import in_a_terminal
from helpers import ROOT
from test_profiles import ENV, repo  # noqa: F401  (the fixture: a git + DVC repository with the project's files)

from difflab.config import profiles
from difflab.config.params import check
from difflab.workflow import cost
from difflab.workflow.run import table


def stages_in(text: str) -> dict[str, float]:
    """The stage rows of a table() (name, seconds, share)."""
    return {name: float(seconds) for name, seconds, share in
            (line.split() for line in text.splitlines()[2:] if len(line.split()) == 3 and line.endswith("%"))}


def test_the_table_puts_the_slowest_first():
    text = table({"a": 10.0, "b": 30.0, "c": 60.0}, "title", wall=110.0)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["c", "b", "a"] and "60%" in lines[2]
    assert "1 min 40 s" in lines[5] and "1 min 50 s" in lines[6] and "DVC between stages 10 s" in lines[6]
    assert stages_in(text) == {"a": 10.0, "b": 30.0, "c": 60.0}


REFERENCE = {"profile": "quick", "date": "2026-11-29", "machine": "2 cores, X", "precision": "bf16",
             "probe_seconds": 0.1, "between_stages": 60.0, "stages": {"train": 300.0, "sample": 200.0, "report": 100.0}}


def test_the_estimate_scales_the_run_of_record_by_the_probe():
    e = cost.estimate(REFERENCE, 0.2)  # this machine steps 2x slower; DVC's 60 s between stages stay 60 s
    assert e["total"] == pytest.approx(1260) and e["stages"]["train"] == pytest.approx(600)
    assert (e["low"], e["high"]) == pytest.approx((1260 * cost.RANGE[0], 1260 * cost.RANGE[1]))
    text = cost.describe("quick", REFERENCE, 0.2)
    assert "about 21 minutes" in text and "11.0 minutes" in text
    assert "0.50x as fast" in text and "2 cores, X" in text and "train 300 s" in text
    assert "not estimated" in cost.describe("paper", None, None)


def test_a_recorded_run_is_the_next_estimates_reference(tmp_path):
    path = cost.record("quick", {"b": 2.04, "a": 1.0}, 4.0, 0.123456, "m", "fp32", "2026-11-29", folder=tmp_path)
    assert cost.read_reference("quick", tmp_path) == {"profile": "quick", "date": "2026-11-29", "machine": "m",
                                                     "device": "cpu", "precision": "fp32", "probe_seconds": 0.12346, "jobs": 1,
                                                     "wall": 4.0, "between_stages": 1.0, "stages": {"a": 1.0, "b": 2.0}}
    assert path.name == "quick.cost.json" and cost.read_reference("paper", tmp_path) is None


def test_a_record_without_a_probe_is_quoted_as_it_was_with_its_gpu(tmp_path):
    """The paper run of record was not probed on its H200: the cost is its own, named with the GPU, and a CPU is told
    that it is a GPU's figure (and what a CPU takes), not a scaled guess."""
    times = {"jobs": 8, "wall": 441.2, "stages": {"download_mnist": {"status": "skipped", "seconds": 0.0},
                                                  "train": {"status": "ran", "seconds": 315.8},
                                                  "report": {"status": "ran", "seconds": 9.7}}}
    cost.record_stage_times("paper", times, None, "16 cores, one NVIDIA H200 (140 GiB)", "bf16", "2026-12-04",
                            "cuda", tmp_path)
    reference = cost.read_reference("paper", tmp_path)
    assert reference["probe_seconds"] is None and reference["untimed"] == ["download_mnist"]
    assert cost.estimate(reference, 0.05)["total"] == pytest.approx(441.2)  # nothing to scale by
    on_gpu = cost.describe("paper", reference, None, 8, "cuda")
    assert on_gpu.startswith("Cost of the paper profile on the machine of record (16 cores, one NVIDIA H200 "
                             "(140 GiB), 2026-12-04, bf16, 8 stages at a time): 7.4 minutes for 3 stages "
                             "(download_mnist handed over, not timed); slowest stages there: train 316 s, report 10 s.")
    assert "This GPU was not compared with it" in on_gpu and "That run ran" not in on_gpu
    assert "That run ran 8 stages at a time, this one runs 2" in cost.describe("paper", reference, None, 2, "cuda")
    on_cpu = cost.describe("paper", reference, 0.05, 1, "cpu")
    assert "That was on a GPU and this run's stages use the CPU" in on_cpu and "about 15 hours in bf16" in on_cpu
    times["stages"]["report"]["status"] = "failed"
    with pytest.raises(ValueError, match="stages that did not finish: {'report': 'failed'}; allowed: a run in"):
        cost.record_stage_times("paper", times, None, "m", "bf16", "2026-12-04", "cuda", tmp_path)


def test_a_run_of_stages_side_by_side_is_estimated_by_its_wall_time(tmp_path):
    cost.record("quick", {"a": 300.0, "b": 200.0, "c": 100.0}, 400.0, 0.1, "2 cores, X", "bf16", "2026-11-29", jobs=2,
                folder=tmp_path)
    reference = cost.read_reference("quick", tmp_path)
    e = cost.estimate(reference, 0.2)  # 2x slower here: the 400 s of wall time become 800 s, not 2 x 600 s
    assert e["total"] == pytest.approx(800) and e["stages"]["a"] == pytest.approx(600)
    assert "2 stages at a time: 6.7 minutes" in cost.describe("quick", reference, 0.2)
    assert "That run ran 2 stages at a time, this one runs 1" in cost.describe("quick", reference, 0.2, 1)
    assert "That run" not in cost.describe("quick", reference, 0.2, 2)
    assert table({"a": 300.0, "b": 200.0}, "t", 400.0, jobs=2).endswith("(6 min 40 s; up to 2 stages at a time)")


@pytest.mark.parametrize("device, cores, threads, asked, planned", [
    ("cpu", 2, "auto", None, (1, "auto")),  # each stage takes every core: one at a time
    ("cpu", 2, 1, None, (2, 1)), ("cpu", 2, 2, None, (1, 2)), ("cpu", 2, 3, None, (1, 3)),
    ("cpu", 16, 1, None, (16, 1)), ("cpu", 16, 2, None, (8, 2)),
    ("cpu", 8, "auto", 2, (2, 4)),  # --jobs 2 with threads auto: each stage its half of the cores
    ("cuda", 16, "auto", None, (8, 2)),  # the measured case: one H200, 16 cores
    ("cuda", 32, "auto", None, (8, 4)),  # never more than 8 on one GPU; the cores shared out
    ("cuda", 10, "auto", None, (5, 2)), ("cuda", 2, "auto", None, (1, "auto")),  # one at a time: threads untouched
    ("cuda", 16, 4, None, (4, 4)), ("cuda", 16, 1, None, (8, 1)),  # a pinned thread count is kept
    ("cuda", 16, "auto", 3, (3, 5)), ("cuda", 16, "auto", 1, (1, "auto")), ("cuda", 16, 2, 12, (12, 2))])
def test_stages_and_threads_are_planned_from_device_cores_and_threads(device, cores, threads, asked, planned):
    from difflab.workflow.run import plan_jobs

    assert plan_jobs(device, cores, threads, asked) == planned


@pytest.mark.parametrize("args, message", [(["--jobs", "0"], "--jobs '0': allowed: auto or an integer >= 1"),
                                           (["--set", "threads"], "--set 'threads': allowed: KEY=VALUE")])
@pytest.mark.slow
def test_bad_jobs_or_set_arguments_are_named(repo, tmp_path, args, message):  # noqa: F811
    out = run_make_run(repo, fake_dvc(tmp_path, "echo dvc ran"), "quick", *args)
    assert out.returncode == 2 and message in out.stderr and "dvc ran" not in out.stdout


@pytest.mark.slow
def test_stages_side_by_side_with_threads_auto_get_the_cores_share(repo, tmp_path):  # noqa: F811
    """--jobs 2 on the paper profile (threads auto): make run says it pins threads to half the cores and estimates
    with them; an explicit --set threads is kept as given."""
    import os

    out = run_make_run(repo, fake_dvc(tmp_path, "exit 0"), "paper", "--jobs", "2", "--estimate")
    share = max(1, os.cpu_count() // 2)
    assert out.returncode == 0, out.stderr
    assert f"2 stages at a time on {os.cpu_count()} cores: threads={share} each" in out.stdout
    (tmp_path / "again").mkdir()
    out = run_make_run(repo, fake_dvc(tmp_path / "again", "exit 0"), "paper", "--jobs", "2", "--set", "threads=1",
                       "--estimate")
    assert out.returncode == 0 and "stages at a time on" not in out.stdout


@pytest.mark.slow
def test_set_adds_its_override_to_the_profiles(repo, tmp_path):  # noqa: F811
    out = run_make_run(repo, fake_dvc(tmp_path, "exit 0"), "paper", "--jobs", "1", "--set", "seed=7")
    assert out.returncode == 0, out.stderr
    assert calls(tmp_path)[-1] == ["exp", "run", *profiles.set_args("paper"),
                                                                         "-S", "seed=7"]


def test_the_probe_times_a_training_step():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert 0 < cost.probe(check(dict(params, device="cpu", precision="fp32")), repeats=1) < 60


def fake_dvc(tmp_path: Path, script: str) -> dict:
    """PATH with a `dvc` that appends its arguments to calls.txt (a line a call, tab-separated: calls() reads them)
    and then runs `script` (shell)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f"#!/bin/sh\nprintf '%s\\t' \"$@\" >> {bin_dir}/calls.txt\necho >> {bin_dir}/calls.txt\n"
                                 f"{script}\n")
    (bin_dir / "dvc").chmod(0o755)
    return dict(ENV, PATH=f"{bin_dir}:{ENV['PATH']}")


def calls(tmp_path: Path) -> list[list[str]]:
    """The fake dvc's calls, each as its arguments."""
    return [line.split("\t")[:-1] for line in (tmp_path / "bin" / "calls.txt").read_text().splitlines()]


def run_make_run(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "difflab.workflow.run", *args], cwd=repo, env=env,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_make_run_calls_dvc_per_stage_in_order_and_times_each_call(repo, tmp_path):  # noqa: F811
    """The outputs in the cache checked out, one `dvc repro --single-item` per stage, each after the stages it reads
    from, then `dvc exp run` with the profile's argument list to record the experiment; every stage's time in the
    table after, as the runner's clock took it around the call (DVC's words are not read: the fake prints none)."""
    from difflab.workflow.parallel import stage_graph

    upstream = stage_graph(repo)
    out = run_make_run(repo, fake_dvc(tmp_path, "sleep 0.1"), "paper")
    assert out.returncode == 0, out.stderr
    made = calls(tmp_path)
    assert made[0][0] == "checkout" and made[-1] == ["exp", "run", *profiles.set_args("paper")]
    order = [c[-1] for c in made[1:-1]]
    assert all(c[:-1] == ["--wait-for-lock", "repro", "--single-item"] for c in made[1:-1])
    assert sorted(order) == sorted(upstream)
    assert all(order.index(dep) < order.index(name) for name, deps in upstream.items() for dep in deps)
    assert "Cost of the paper profile on the machine of record (16 cores, one NVIDIA H200" in out.stdout
    assert "this run's stages use the CPU" in out.stdout  # said before dvc starts
    assert out.stdout.index("machine of record") < out.stdout.index(f"{len(upstream)} stages, 0 of them up to date")
    logs = list((repo / "logs").glob("run-*-paper.log"))
    assert len(logs) == 1 and out.stdout.rstrip().endswith(f"(kept in logs/{logs[0].name})")
    times = stages_in(logs[0].read_text().split("\n\n")[-1])
    assert set(times) == set(upstream) and min(times.values()) >= 0.1


@pytest.mark.slow
def test_a_failed_run_still_reports_its_stage_times_and_exit_status(repo, tmp_path):  # noqa: F811
    env = fake_dvc(tmp_path, 'case "$*" in *train_denoiser) echo boom >&2; exit 3;; esac')
    out = run_make_run(repo, env, "paper")
    assert out.returncode == 3 and "train_denoiser: FAILED (exit 3)" in out.stdout and "boom" in out.stdout
    assert "download_mnist" in stages_in(out.stdout.split("Stage wall")[-1])  # it ran before the failure
    assert calls(tmp_path)[-1][-1] == "train_denoiser"  # nothing started after it, no experiment recorded


@pytest.mark.slow
def test_the_cost_of_record_is_announced(repo, tmp_path):  # noqa: F811
    (repo / "profiles" / "quick.cost.json").write_text(json.dumps(REFERENCE))
    out = run_make_run(repo, fake_dvc(tmp_path, "exit 0"), "quick", "--estimate")
    assert out.returncode == 0 and "Expected cost of the quick profile here: about" in out.stdout
    assert not (tmp_path / "bin" / "calls.txt").exists()  # --estimate runs nothing


@pytest.mark.slow
def test_a_bad_value_left_in_params_yaml_is_named_before_dvc_runs(repo, tmp_path):  # noqa: F811
    """What a failed `dvc exp run -S parta.model=sdxl` leaves behind: the next `make run` names the bad value, the
    keys that differ from the committed params.yaml and how to reset it, and never starts dvc."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["parta"]["model"] = "sdxl"
    params["ddpm_class"]["guidance_scale"] = 5.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run_make_run(repo, fake_dvc(tmp_path, "echo dvc ran"), "quick")
    assert out.returncode == 2 and "dvc ran" not in out.stdout
    assert "parta.model='sdxl' is not allowed; allowed: 'mnist' or 'deepfloyd_if'" in out.stderr
    assert "ddpm_class.guidance_scale=5.0 (committed: 3.0)" in out.stderr and "parta.model='sdxl'" in out.stderr
    assert "git checkout -- params.yaml" in out.stderr
    # a profile's own override repairs a bad value of a key it sets
    params["parta"]["model"], params["denoiser"]["epochs"] = "mnist", 0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert profiles.preflight(profiles.set_args("quick")) is None
    assert "denoiser.epochs=0 is not allowed" in profiles.preflight([])  # without the profile it stays bad


@pytest.mark.slow
def test_in_a_terminal_dvc_gets_a_terminal_too(repo, tmp_path):  # noqa: F811
    """Run from a terminal one stage at a time, `make run` gives each stage's DVC call a pseudo-terminal of its own
    and shows its output as it comes, so the stages' progress bars stay live (tqdm draws them only on a terminal);
    the stage's log keeps it too."""
    env = fake_dvc(tmp_path, 'case "$*" in *download_mnist) [ -t 1 ] && echo "on a terminal";; esac')
    out = in_a_terminal([sys.executable, "-m", "difflab.workflow.run", "paper"], repo, 100, env)
    assert out.index("on a terminal") < out.index("download_mnist: done in") < out.index("Stage wall times")
    [log] = (repo / "logs").glob("run-*-paper/download_mnist.log")
    assert log.read_text() == "on a terminal\n"


def test_seeds_queues_one_experiment_per_seed_then_starts_the_queue():
    from difflab.workflow.seeds import commands

    todo = commands("quick", 3, 2718, 2, ["-S", "profile=quick", "-S", "threads=1"])
    assert todo == [["dvc", "exp", "run", "--queue", "-n", f"quick-seed-{s}", "-S", "profile=quick", "-S",
                     "threads=1", "-S", f"seed={s}"] for s in (2718, 2719, 2720)] + [["dvc", "queue", "start",
                                                                                      "-j", "2"]]
    with pytest.raises(ValueError, match="N=1; allowed: 2 or more seeds"):
        commands("quick", 1, 2718, 1, [])
    with pytest.raises(ValueError, match="--jobs 0; allowed: 1 or more"):
        commands("quick", 3, 2718, 0, [])
