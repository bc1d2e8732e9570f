"""DVC's own time around a stage: each named stage's command run bare against the same stage through
`dvc repro --single-item --force <stage>` (what `make run` calls once per stage), alternating, in a repository where
the pipeline has run (its outputs and dvc.lock present, e.g. a fresh clone after `make run`).

    python bench/stage_overhead.py parta eval_parta                 # twice each, bare then through DVC
    python bench/stage_overhead.py summary --repeat 3 --repo /tmp/run

The difference is DVC's bookkeeping: loading dvc.yaml, params.yaml and dvc.lock, checking the stage, hashing and
caching its outputs, rewriting dvc.lock (a cost that grows with the lock; treeverse/dvc#10629). Both runs write
the same outputs, and the forced repro records them as a plain `dvc repro` would: the repository is left as it was.
Run it on a quiet machine; never as a test (timings depend on the machine, printed first).
"""

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from difflab.workflow.cost import machine


def stage_commands(repo: Path, names: list[str]) -> dict[str, str]:
    """The command of each named stage (a foreach item as `name@key`), as DVC resolves it."""
    from dvc.repo import Repo

    with contextlib.chdir(repo), Repo(".") as r:  # a stage's address is relative to the working directory
        stages = {s.addressing: s for s in r.index.stages}
    unknown = [n for n in names if n not in stages]
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(sorted(stages))}")
    cmds = {n: stages[n].cmd for n in names}
    for name, cmd in cmds.items():
        if not isinstance(cmd, str):
            raise SystemExit(f"stage {name} runs a list of commands; allowed here: stages with one command")
    return cmds


def seconds(cmd: list[str] | str, repo: Path) -> float:
    # The stages' `python` is this interpreter, as under make (its venv first on PATH).
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=repo, shell=isinstance(cmd, str), capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if done.returncode:
        shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
        raise SystemExit(f"`{shown}` failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stages", nargs="+", help="stage names, as `dvc stage list` shows them")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (default: %(default)s)")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: here)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}; allowed: an integer >= 1")
    if not (args.repo / "dvc.lock").is_file():
        parser.error(f"{args.repo / 'dvc.lock'} not found: run the pipeline there first (make run)")
    cmds = stage_commands(args.repo, args.stages)
    lock = (args.repo / "dvc.lock").read_bytes()
    lines, kib = lock.count(b"\n"), len(lock) / 1024
    print(f"{machine()}, Python {sys.version.split()[0]}; dvc.lock {lines:,} lines, {kib:,.0f} KiB\n")
    print("| stage | bare command, s | through dvc repro, s | DVC's own, s |")
    print("|---|---:|---:|---:|", flush=True)
    for name, cmd in cmds.items():
        for _ in range(args.repeat):
            bare = seconds(cmd, args.repo)
            dvc = seconds([sys.executable, "-m", "dvc", "repro", "--single-item", "--force", name], args.repo)
            print(f"| `{name}` | {bare:.2f} | {dvc:.2f} | {dvc - bare:.2f} |", flush=True)


if __name__ == "__main__":
    main()
