"""`make run`: a profile's run through DVC, with its cost said before and each stage's wall time after.

    python -m difflab.workflow.run quick             # what make run does without CUDA
    python -m difflab.workflow.run paper             # params.yaml as committed
    python -m difflab.workflow.run quick --estimate  # only say what it would cost here
    python -m difflab.workflow.run quick --record    # after the run, keep its stage times as the profile's reference
    python -m difflab.workflow.run paper --jobs 4    # four stages at a time (threads auto: each gets cores // 4)

It checks the params the run would get (config/profiles.py's pre-flight) and prints the cost estimate
(workflow/cost.py). Then the profile's overrides are written into params.yaml as `dvc exp run -S key=value` writes
them, the stages run through workflow/parallel.py (DVC's own `dvc repro` per stage, each timed by the runner's clock
around its call, each stage's output in logs/run-<UTC time>-<profile>/<stage>.log; one at a time on a terminal, also
shown there as it comes, progress bars live), and `dvc exp run -S ...`, finding every stage up to date, records the
experiment. What it printed and the table of stage times go to logs/run-<UTC time>-<profile>.log. The logs are
git-ignored and no DVC output: a rerun with nothing changed stays a no-op and seeded outputs stay byte-identical.

How many stages run at a time (--jobs; plan_jobs): by default on a CPU as many as fit in the cores when the run's
`threads` param is pinned (2 for the quick profile on 2 cores), else one; on a GPU up to 8 at threads=2, the
measured case. The outputs are those of a run one stage at a time with the same params.
"""

import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from difflab.config.params import Params, check
from difflab.config.profiles import PROFILES, preflight, set_args, with_overrides
from difflab.config.runtime import from_params
from difflab.workflow import cost
from difflab.workflow.cost import machine
from difflab.workflow.parallel import STOPPED, Run, run_side_by_side

LOGS = Path("logs")


# Stages side by side on one GPU: the measured case, 8 at threads=2 on 16 cores and one H200 (the paper run of
# 2026-12-04, results/paper-h200-2026-12-04: 41 stages in 7 min 21 s). More at once was never tried on one GPU.
GPU_JOBS = 8
GPU_THREADS = 2


def plan_jobs(device: str, cores: int, threads: str | int, jobs: int | None = None) -> tuple[int, str | int]:
    """(stages at a time, CPU threads per stage) for a run whose stages use `device` ("cpu" or "cuda") on a machine
    of `cores` cores, with the run's `threads` param; `jobs` where the user chose it (--jobs).

    On a CPU the pinned thread count decides: as many stages as fit in the cores (threads 1 on 2 cores: 2), one at a
    time where threads is auto (each stage takes every core). On a GPU the stages share the device and the CPU only
    feeds it: up to GPU_JOBS, as many as the cores hold at GPU_THREADS threads each. Wherever more than one stage runs
    with threads auto, the threads are pinned to the cores' share (cores // jobs; 2 for 8 stages on 16 cores):
    stages that each take every core spin waiting for each other."""
    if jobs is None:
        if device == "cpu":
            jobs = 1 if threads == "auto" else max(1, cores // threads)
        else:
            jobs = max(1, min(GPU_JOBS, cores // (GPU_THREADS if threads == "auto" else threads)))
    if jobs > 1 and threads == "auto":
        threads = max(1, cores // jobs)
    return jobs, threads


class Tee:
    """What the stage runner prints, on the screen and in the run's log."""

    def __init__(self, screen, log):
        self.screen, self.log = screen, log

    def write(self, text: str) -> None:
        self.screen.write(text)
        if not text.startswith("\r"):  # the status line, redrawn in place, stays off the log
            self.log.write(text)

    def flush(self) -> None:
        self.screen.flush()

    def isatty(self) -> bool:
        return self.screen.isatty()


def run_stages(set_arguments: list[str], jobs: int, folder: Path, log, expected: dict | None) -> tuple[int, Run]:
    """The overrides written into params.yaml (DVC's own -S code), the outputs in the cache checked out (as `dvc exp
    run` does first), the stages through workflow/parallel.py (the highest `expected` cost first), then `dvc exp run
    -S` to record the experiment (every stage up to date by then). Returns (exit status, the stages' outcomes)."""
    from dvc.utils.hydra import apply_overrides

    apply_overrides("params.yaml", set_arguments[1::2])
    # as `dvc exp run` does before it reproduces: every output the cache holds checked out (a fresh clone sharing a
    # cache gets what matches from there instead of rerunning it)
    subprocess.run(["dvc", "checkout", "--force", "--allow-missing", "--quiet"], stdin=subprocess.DEVNULL,
                   stdout=log, stderr=subprocess.STDOUT)
    result = run_side_by_side(jobs, folder, cost=expected, out=Tee(sys.stdout, log))
    if not result.ok:
        return next(o.code for o in result.outcomes.values() if o.status == "failed") or 1, result
    command = ["dvc", "exp", "run", *set_arguments]
    print("+ " + shlex.join(command) + "   (records the experiment; every stage is up to date)", flush=True)
    log.write(f"+ {shlex.join(command)}\n")
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    log.write(done.stdout + done.stderr)
    named = re.search(r"Ran experiment\(s\): (\S+)", done.stdout)
    print(f"recorded as experiment {named[1]}" if done.returncode == 0 and named else done.stdout + done.stderr,
          flush=True)
    return done.returncode, result


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s" if seconds >= 60 else f"{seconds:.0f} s"


def table(times: dict[str, float], title: str, wall: float | None = None, jobs: int = 1) -> str:
    """The stages slowest first, with their share of the stages' total (the place to look for where the time goes),
    then the whole run's wall time where given (with `jobs` stages at a time the stages' total exceeds it; one at a
    time, the rest is DVC's own work outside the stages' calls)."""
    total = sum(times.values())
    width = max([len("stage"), *map(len, times)])
    lines = [title, f"{'stage':<{width}}  {'seconds':>8}  {'share':>5}"]
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<{width}}  {seconds:8.1f}  {seconds / total if total else 0:5.0%}")
    lines.append(f"{'all ' + str(len(times)) + ' stages':<{width}}  {total:8.1f}  ({_minutes(total)})")
    if wall is not None and jobs > 1:
        lines.append(f"{'whole run':<{width}}  {wall:8.1f}  ({_minutes(wall)}; up to {jobs} stages at a time)")
    elif wall is not None:
        lines.append(f"{'whole run':<{width}}  {wall:8.1f}  ({_minutes(wall)}; DVC between stages "
                     f"{_minutes(max(wall - total, 0))})")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--quick-file", type=Path, default=Path("profiles/quick.txt"))
    parser.add_argument("--estimate", action="store_true", help="only print the expected cost here")
    parser.add_argument("--record", action="store_true",
                        help="keep this run's stage times as the profile's reference (profiles/<profile>.cost.json)")
    parser.add_argument("--jobs", default="auto",
                        help="stages at a time (default auto: on a CPU with params' threads pinned, cores // threads, "
                             f"else 1; on a GPU up to {GPU_JOBS} at threads={GPU_THREADS}, as the cores allow)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a param to override beyond the profile's (as dvc exp run -S; repeatable)")
    return parser


def _params(set_arguments: list[str]) -> Params:
    """params.yaml with the run's overrides, checked."""
    return check(with_overrides(yaml.safe_load(Path("params.yaml").read_text()), set_arguments))


def _plan(parser: argparse.ArgumentParser, args) -> tuple[list[str], Params, int]:
    """The run's -S arguments, its params (checked by the pre-flight) and its stages at a time; the threads pinned
    to each stage's share of the cores where more than one runs with threads auto."""
    if args.jobs != "auto" and not (args.jobs.isdigit() and int(args.jobs) >= 1):
        parser.error(f"--jobs {args.jobs!r}: allowed: auto or an integer >= 1")
    bad = [kv for kv in args.set if "=" not in kv]
    if bad:
        parser.error(f"--set {bad[0]!r}: allowed: KEY=VALUE")
    set_arguments = set_args(args.profile, args.quick_file) + [a for kv in args.set for a in ("-S", kv)]
    problem = preflight(set_arguments)
    if problem:
        parser.exit(2, f"{parser.prog}: error: {problem}\n")
    params = _params(set_arguments)
    jobs, threads = plan_jobs(from_params(params).device.type, os.cpu_count() or 1, params.threads,
                              None if args.jobs == "auto" else int(args.jobs))
    if threads != params.threads:  # more than one stage at a time: each its share of the cores
        set_arguments += ["-S", f"threads={threads}"]
        params = _params(set_arguments)
        print(f"{jobs} stages at a time on {os.cpu_count()} cores: threads={threads} each (--set threads=N to choose; "
              f"--jobs N for another number of stages)", flush=True)
    return set_arguments, params, jobs


def _run(parser: argparse.ArgumentParser, profile: str, set_arguments: list[str], params: Params, jobs: int,
         expected: dict | None) -> tuple[int, Run, float, datetime.datetime]:
    """The run, logged, with its table of stage times after: (exit status, outcomes, wall seconds, start)."""
    started = datetime.datetime.now(datetime.timezone.utc)
    LOGS.mkdir(exist_ok=True)
    path = LOGS / f"run-{started:%Y%m%dT%H%M%SZ}-{profile}.log"
    with path.open("w") as log:
        start = time.monotonic()
        try:
            status, result = run_stages(set_arguments, jobs, path.with_suffix(""), log, expected)
        except KeyboardInterrupt:
            parser.exit(130, f"\n{parser.prog}: {STOPPED}\n")
        wall = time.monotonic() - start
        title = (f"Stage wall times of this run ({profile} profile, {machine()}, {from_params(params).precision}, "
                 f"{jobs} stage{'s' if jobs > 1 else ''} at a time, {started:%Y-%m-%d}):")
        times = result.times()
        summary = table(times, title, wall, jobs) if times else "No stage ran: everything was up to date."
        log.write("\n" + summary + "\n")
    print("\n" + summary + f"\n(kept in {path})", flush=True)
    return status, result, wall, started


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    set_arguments, params, jobs = _plan(parser, args)
    runtime = from_params(params)
    reference = cost.read_reference(args.profile)
    probe = cost.probe(params) if (reference and reference.get("probe_seconds")) or args.record else None
    print(cost.describe(args.profile, reference, probe, jobs, runtime.device.type), flush=True)
    if args.estimate:
        return
    expected = cost.estimate(reference, probe)["stages"] if reference else None
    status, result, wall, started = _run(parser, args.profile, set_arguments, params, jobs, expected)
    if status != 0:
        sys.exit(status)
    if args.record:
        if result.skipped():
            parser.exit(2, f"{parser.prog}: not recorded: DVC skipped {len(result.skipped())} stages (unchanged or "
                           f"from the run cache); record a run in which every stage runs (a fresh clone)\n")
        kept = cost.record(args.profile, result.times(), wall, probe, machine(), runtime.precision,
                           started.strftime("%Y-%m-%d"), jobs, device=runtime.device.type)
        print(f"recorded {kept}")


if __name__ == "__main__":
    main()
