"""Stages side by side (difflab/workflow/parallel.py): the schedule against hand-made DAGs with a fake stage runner,
and DVC's own `dvc repro` per stage on a three-stage repository (the project's DAG: tests/test_pipeline.py)."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from difflab.workflow.parallel import Console, chain_lengths, out_of_date, schedule, stage_graph

# a -> b -> d, a -> c -> d, e alone; long chains: a (4), then b / c (3 with d), e (1)
DIAMOND = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "e": set()}


class Recorder:
    """A fake run_stage: each stage "runs" for `seconds` (0.05 by default), and past that until the stages `after`
    names for it have started (at most 30 s: so that an overlap the schedule allows is not a race with the sleep on
    a loaded machine), recording when it started and ended and how many ran at once."""

    def __init__(self, seconds=None, codes=None, after=None):
        self.seconds, self.codes, self.after = seconds or {}, codes or {}, after or {}
        self.lock, self.running, self.most = threading.Lock(), 0, 0
        self.started = threading.Condition(self.lock)
        self.spans: dict[str, tuple[float, float]] = {}
        self.order: list[str] = []

    def __call__(self, name: str) -> tuple[int, bool]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.order.append(name)
            self.started.notify_all()
        start = time.monotonic()
        time.sleep(self.seconds.get(name, 0.05))
        with self.lock:
            self.started.wait_for(lambda: self.after.get(name, set()) <= set(self.order), timeout=30)
            self.running -= 1
            self.spans[name] = (start, time.monotonic())
        return self.codes.get(name, 0), False


def test_chain_lengths_by_hand():
    assert chain_lengths(DIAMOND) == {"a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0, "e": 1.0}
    costs = {"a": 10, "b": 1, "c": 5, "d": 2, "e": 30}
    assert chain_lengths(DIAMOND, costs) == {"a": 17.0, "b": 3.0, "c": 7.0, "d": 2.0, "e": 30.0}


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_stage_starts_after_all_it_needs_and_never_more_than_jobs_at_once(jobs):
    stage = Recorder({"e": 0.3}, after={"e": {"b", "c"}})  # e runs on until b and c have started
    run = schedule(DIAMOND, stage, jobs)
    assert run.ok and set(run.times()) == set(DIAMOND)
    assert stage.most == min(jobs, 3)  # a and e, then b, c and e can run together, never more
    for name, deps in DIAMOND.items():
        for dep in deps:
            assert stage.spans[dep][1] <= stage.spans[name][0], (dep, name)


def test_the_longest_chain_starts_first():
    stage = Recorder()
    schedule(DIAMOND, stage, 1)
    assert stage.order == ["a", "b", "c", "d", "e"]  # e, alone, waits: the chain behind a is longer
    stage = Recorder()
    schedule(DIAMOND, stage, 1, chain_lengths(DIAMOND, {"e": 100}))
    assert stage.order[0] == "e"  # a known slow stage goes first


def test_two_slots_finish_the_diamond_in_the_time_of_its_critical_path():
    """a | b+e | c+e | d: with two slots and the chains' costs, a (its chain 0.6 s) and e (0.4 s) start at once, so
    e runs beside a's chain and the diamond takes its critical path's time (0.8 s), not 1.2 s one after the other.
    Read from the order and the overlap, not the wall clock, which a loaded machine stretches (1.115 s against a
    bound of 1.1 in a fresh clone's CI on 2026-12-04)."""
    seconds = {"a": 0.2, "b": 0.2, "c": 0.2, "d": 0.2, "e": 0.4}
    stage = Recorder(seconds)
    schedule(DIAMOND, stage, 2, chain_lengths(DIAMOND, seconds))
    assert set(stage.order[:2]) == {"a", "e"} and stage.order[-1] == "d" and stage.most == 2
    (a0, a1), (e0, e1) = stage.spans["a"], stage.spans["e"]
    assert e0 < a1 and a0 < e1  # e beside a, not after the chain


def test_each_stage_is_timed_by_the_runners_clock_around_its_call():
    """A stage's seconds are the runner's own clock's from its call to its return (no output of DVC's is read)."""
    now = [0.0]

    def stage(name: str) -> tuple[int, bool]:
        now[0] += {"a": 30.0, "b": 7.0}.get(name, 1.0)
        return 0, name == "e"  # e: DVC skipped it
    run = schedule(DIAMOND, stage, 1, clock=lambda: now[0])
    assert run.times() == {"a": 30.0, "b": 7.0, "c": 1.0, "d": 1.0} and run.skipped() == {"e"}


def test_after_a_failure_nothing_new_starts_and_what_needs_it_is_not_started():
    stage = Recorder(codes={"b": 3})
    run = schedule(DIAMOND, stage, 1)
    assert not run.ok
    assert run.outcomes["b"].status == "failed" and run.outcomes["b"].code == 3
    assert {n for n, o in run.outcomes.items() if o.status == "not started"} == {"c", "d", "e"}
    stage = Recorder(seconds={"b": 0.01, "c": 0.3}, codes={"b": 1})
    run = schedule(DIAMOND, stage, 3)  # a and e first; c was running when b failed: it finishes, d never starts
    assert run.outcomes["c"].status == "ran" and run.outcomes["d"].status == "not started"


def test_keep_going_runs_all_that_does_not_depend_on_the_failure():
    stage = Recorder(codes={"b": 1})
    run = schedule(DIAMOND, stage, 1, keep_going=True)
    assert {n: o.status for n, o in run.outcomes.items()} == {"a": "ran", "b": "failed", "c": "ran", "d": "not started",
                                                              "e": "ran"}


def test_jobs_below_one_is_refused():
    with pytest.raises(ValueError, match="jobs=0; allowed: an integer >= 1"):
        schedule(DIAMOND, Recorder(), 0)


def test_the_console_names_each_stage_and_shows_a_failed_stages_log(tmp_path, capsys):
    (tmp_path / "b.log").write_text("Traceback ...\nValueError: the reason\n")
    stage = Recorder(codes={"b": 2})
    schedule(DIAMOND, stage, 1, on_event=Console(len(DIAMOND), 1, tmp_path, sys.stdout))
    out = capsys.readouterr().out
    assert "[1/5] a: done in" in out and "[2/5] b: FAILED (exit 2)" in out and "ValueError: the reason" in out


# --- with DVC --------------------------------------------------------------------------------------------------

ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1",
           PYTHONPATH=str(ROOT / "src"), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
           GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")


# x's and y's command: print a param after a second. Where $MEET names a folder, x and y first meet there: each
# leaves its name and waits (at most a minute) for the other's, and says on stderr whether it met the other; run one
# after the other, the first waits out the minute alone. (The outputs and dvc.lock do not depend on it.)
READ = """import os, sys, time, yaml
key, meet = sys.argv[1], os.environ.get("MEET")
if meet:
    open(os.path.join(meet, key), "w").close()
    other, deadline = os.path.join(meet, "b" if key == "a" else "a"), time.monotonic() + 60
    while not os.path.exists(other) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("met" if os.path.exists(other) else "alone", file=sys.stderr)
time.sleep(1)
print(yaml.safe_load(open("params.yaml"))[key])
"""


def dvc_repo(root: Path) -> Path:
    """x and y printing params a and b after a second (read.py), z joining them."""
    root.mkdir()
    (root / "params.yaml").write_text("a: 1\nb: 2\n")
    (root / "read.py").write_text(READ)
    stages = {"x": {"cmd": "python read.py a > x.txt", "params": ["a"], "outs": ["x.txt"]},
              "y": {"cmd": "python read.py b > y.txt", "params": ["b"], "outs": ["y.txt"]},
              "z": {"cmd": "cat x.txt y.txt > z.txt", "deps": ["x.txt", "y.txt"], "outs": ["z.txt"]}}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=root, env=ENV, check=True, capture_output=True)
    return root


def side_by_side(root: Path, *args: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-m", "difflab.workflow.parallel", "--logs", str(root / "logs"), *args],
                         cwd=root, env={**ENV, **env}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.slow
def test_dvc_repro_per_stage_side_by_side_leaves_what_plain_dvc_repro_leaves(tmp_path):
    plain, parallel = dvc_repo(tmp_path / "plain"), dvc_repo(tmp_path / "parallel")
    assert stage_graph(parallel) == {"x": set(), "y": set(), "z": {"x", "y"}}
    assert stage_graph(parallel, ["x"]) == {"x": set()}
    subprocess.run(["dvc", "repro"], cwd=plain, env=ENV, check=True, capture_output=True)
    (tmp_path / "meet").mkdir()
    log = side_by_side(parallel, "--jobs", "2", "--times", "times.json", MEET=str(tmp_path / "meet"))
    times = json.loads((parallel / "times.json").read_text())
    assert times["jobs"] == 2 and {n: t["status"] for n, t in times["stages"].items()} == dict.fromkeys("xyz", "ran")
    seconds = [t["seconds"] for t in times["stages"].values()]
    assert times["stages"]["x"]["seconds"] >= 1.0 and times["wall"] < sum(seconds)
    for name in ("x", "y"):  # each was running while the other was: they met (READ), however loaded the machine
        assert "met" in (parallel / "logs" / f"{name}.log").read_text().split(), name
    for name in ("x.txt", "y.txt", "z.txt"):
        assert (parallel / name).read_bytes() == (plain / name).read_bytes(), name
    # the same lock entries (DVC writes each stage's as it ends, so their order may differ)
    assert yaml.safe_load((parallel / "dvc.lock").read_text()) == yaml.safe_load((plain / "dvc.lock").read_text())
    assert "[3/3] z: done" in log
    # a rerun with nothing changed: a no-op that calls DVC for no stage (dvc status found them all up to date)
    rerun = tmp_path / "rerun-logs"
    assert "[3/3] z: unchanged" in side_by_side(parallel, "--jobs", "2", "--logs", str(rerun))
    assert not list(rerun.glob("*.log"))
    status = subprocess.run(["dvc", "status"], cwd=parallel, env=ENV, capture_output=True, text=True).stdout
    assert "up to date" in status
    # a knob changed: DVC is called for its stage and what is downstream of it (z), not for y; the outputs and lock
    # are plain dvc repro's after the same change
    for root in (plain, parallel):
        (root / "params.yaml").write_text("a: 5\nb: 2\n")
    assert stages_changed(parallel) == {"x"} and out_of_date(stage_graph(parallel), parallel) == {"x", "z"}
    subprocess.run(["dvc", "repro"], cwd=plain, env=ENV, check=True, capture_output=True)
    changed = tmp_path / "changed-logs"
    log = side_by_side(parallel, "--jobs", "2", "--logs", str(changed))
    assert sorted(p.name for p in changed.glob("*.log")) == ["x.log", "z.log"] and "y: unchanged" in log
    assert (parallel / "z.txt").read_text() == (plain / "z.txt").read_text() == "5\n2\n"
    assert yaml.safe_load((parallel / "dvc.lock").read_text()) == yaml.safe_load((plain / "dvc.lock").read_text())


def stages_changed(root: Path) -> set[str]:
    """The stages `dvc status` names as changed, by DVC's own command line."""
    out = subprocess.run(["dvc", "status", "--json"], cwd=root, env=ENV, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.slow
def test_an_unknown_target_is_named(tmp_path):
    root = dvc_repo(tmp_path / "r")
    out = subprocess.run([sys.executable, "-m", "difflab.workflow.parallel", "bogus"], cwd=root, env=ENV,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown stage(s) bogus; known: x, y, z" in out.stderr


@pytest.mark.slow
def test_a_deadline_stops_the_running_stages_and_keeps_what_finished(tmp_path):
    """SIGTERM (what `timeout` sends at a deadline) reaches the stages' DVC calls as Ctrl+C would: the runner exits
    130 within seconds, no stage's command is left running, the finished stage is in dvc.lock and in --times."""
    root = dvc_repo(tmp_path / "r")
    marker = f"slow-stage-{os.getpid()}"
    stages = yaml.safe_load((root / "dvc.yaml").read_text())
    stages["stages"]["slow"] = {"cmd": f"python -c \"import time; open('started', 'w'); time.sleep(120)\" {marker}",
                                "deps": ["x.txt"], "outs": ["slow.txt"]}
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages))
    proc = subprocess.Popen([sys.executable, "-m", "difflab.workflow.parallel", "--jobs", "2", "--times", "t.json",
                             "slow"], cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (root / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.poll() else "slow"
        time.sleep(0.2)
    proc.terminate()
    out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 130 and "stopped" in out, out
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert not left.strip(), f"still running: {left}"
    assert "x" in yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert json.loads((root / "t.json").read_text())["stages"]["x"]["status"] == "ran"
