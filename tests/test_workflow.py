"""`make run` (difflab/workflow): the arguments it hands DVC, the pre-flight that stops it, the cost it announces and
the stage times it reads from DVC's output, with a fake `dvc` (the real one runs in tests/test_pipeline.py)."""

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
from difflab.workflow.stage_times import StageClock, table


def stages_in(text: str) -> dict[str, float]:
    """The stage rows of a table() (name, seconds, share)."""
    return {name: float(seconds) for name, seconds, share in
            (line.split() for line in text.splitlines()[2:] if len(line.split()) == 3 and line.endswith("%"))}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_each_stage_runs_until_dvc_locks_it():
    clock = FakeClock()
    times = StageClock(clock)
    for now, line in [(0, "Stage 'download_mnist' didn't change, skipping"),
                      (1, "Running stage 'train_denoiser':"), (1, "> python stages/train.py denoiser"),
                      (31, "Updating lock file 'dvc.lock'"),
                      (33, "Running stage 'eval_ood':"),  # 2 s of DVC between them: in no stage
                      (40, "Running stage 'summary':"),  # no lock line: the next stage ends it
                      (41, "Stage 'report' is cached - skipping run, checking out outputs"),
                      (45, "Running stage 'report':")]:
        clock.now = now
        times.feed(line)
    clock.now = 50
    times.stop()  # the run ended
    assert times.times == {"train_denoiser": 30, "eval_ood": 7, "summary": 1, "report": 5}
    assert times.skipped == {"download_mnist", "report"}


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
    assert json.loads((tmp_path / "bin" / "argv.json").read_text()) == ["exp", "run", *profiles.set_args("paper"),
                                                                         "-S", "seed=7"]


def test_the_probe_times_a_training_step():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert 0 < cost.probe(check(dict(params, device="cpu", precision="fp32")), repeats=1) < 60


def fake_dvc(tmp_path: Path, script: str) -> dict:
    """PATH with a `dvc` that records its arguments in argv.json and then runs `script` (shell)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f"#!/bin/sh\n{sys.executable} -c 'import json, sys; "
                                 f"json.dump(sys.argv[1:], open(\"{bin_dir}/argv.json\", \"w\"))' \"$@\"\n{script}\n")
    (bin_dir / "dvc").chmod(0o755)
    return dict(ENV, PATH=f"{bin_dir}:{ENV['PATH']}")


def run_make_run(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "difflab.workflow.run", *args], cwd=repo, env=env,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_make_run_hands_dvc_an_argument_list_and_logs_each_stage(repo, tmp_path):  # noqa: F811
    env = fake_dvc(tmp_path, "echo \"Running stage 'train_denoiser':\"; echo '> python stages/train.py'; "
                             "echo \"Updating lock file 'dvc.lock'\"; echo \"Running stage 'summary':\"")
    out = run_make_run(repo, env, "paper")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "bin" / "argv.json").read_text()) == ["exp", "run", *profiles.set_args("paper")]
    assert "Cost of the paper profile on the machine of record (16 cores, one NVIDIA H200" in out.stdout
    assert "this run's stages use the CPU" in out.stdout  # said before dvc starts
    assert out.stdout.index("machine of record") < out.stdout.index("Running stage")
    logs = list((repo / "logs").glob("run-*-paper.log"))
    assert len(logs) == 1 and out.stdout.rstrip().endswith(f"(kept in logs/{logs[0].name})")
    assert set(stages_in(logs[0].read_text().split("\n\n")[-1])) == {"train_denoiser", "summary"}


@pytest.mark.slow
def test_a_failed_run_still_reports_its_stage_times_and_exit_status(repo, tmp_path):  # noqa: F811
    env = fake_dvc(tmp_path, "echo \"Running stage 'train_denoiser':\"; echo boom >&2; exit 3")
    out = run_make_run(repo, env, "paper")
    assert out.returncode == 3 and "boom" in out.stdout and "train_denoiser" in out.stdout.split("Stage wall")[-1]


@pytest.mark.slow
def test_the_cost_of_record_is_announced(repo, tmp_path):  # noqa: F811
    (repo / "profiles" / "quick.cost.json").write_text(json.dumps(REFERENCE))
    out = run_make_run(repo, fake_dvc(tmp_path, "exit 0"), "quick", "--estimate")
    assert out.returncode == 0 and "Expected cost of the quick profile here: about" in out.stdout
    assert not (tmp_path / "bin" / "argv.json").exists()  # --estimate runs nothing


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
    """Run from a terminal, `make run` gives DVC a pseudo-terminal of its own, so the stages' progress bars stay live
    (tqdm draws them only on a terminal) while their output is still read for the stage times."""
    env = fake_dvc(tmp_path, "if [ -t 1 ]; then echo \"Running stage 'on_a_terminal':\"; fi")
    out = in_a_terminal([sys.executable, "-m", "difflab.workflow.run", "paper"], repo, 100, env)
    assert "on_a_terminal" in out.split("Stage wall times")[-1]


def test_dvcs_warnings_about_outputs_never_built_become_one_line():
    from difflab.workflow.run import NotBuiltWarnings

    quiet = NotBuiltWarnings()
    warning = b"WARNING: No file hash info found for '/c/models/%d'. It won't be created.\r\n"
    out = quiet.feed(b"Reproducing experiment 'x'\r\n" + warning % 1 + (warning % 2)[:30])  # the 2nd in two pieces
    out += quiet.feed((warning % 2)[30:] + warning % 3 + b"Running stage 'a':\r\n" + b"\repoch 1/1:  10%|#")
    out += quiet.feed(b"\repoch 1/1:  20%|##") + quiet.feed(b"\r\ndone") + quiet.flush()
    assert out == (b"Reproducing experiment 'x'\r\nDVC: 3 outputs have no hash in dvc.lock yet (never built in this "
                   b"clone; the warnings are in the log); the stages build them now.\nRunning stage 'a':\r\n"
                   b"\repoch 1/1:  10%|#\repoch 1/1:  20%|##\r\ndone")


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
