"""`make seeds N=3 PROFILE=quick`: one profile over N seeds through DVC's experiment queue, then `make compare`,
which groups the runs that differ only in `seed` into one row of means and spreads (reporting/compare.py).

    python -m difflab.workflow.seeds quick 3            # seeds s, s+1, s+2 (s: params.yaml's seed), queued and run
    python -m difflab.workflow.seeds quick 3 --jobs 2   # two queue workers (the quick profile runs one thread each)
    python -m difflab.workflow.seeds quick 3 --print    # the dvc commands only

What it runs is DVC's own, one command per seed and then the queue:

    dvc exp run --queue -n quick-seed-2718 -S profile=quick ... -S seed=2718
    dvc queue start -j 2

so `dvc queue status` and `dvc queue logs` follow it, and a seed already run is one more experiment of that name
(DVC refuses a name that exists: `dvc exp remove` it first). The whole DAG reruns per seed: every stage reads it.
"""

import argparse
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

from difflab.config.profiles import PROFILES, preflight, set_args


def commands(profile: str, n: int, base_seed: int, jobs: int, set_arguments: list[str]) -> list[list[str]]:
    """The dvc commands: one queued experiment per seed base_seed ... base_seed + n - 1, then the queue started."""
    if n < 2:
        raise ValueError(f"N={n}; allowed: 2 or more seeds (a spread needs two runs)")
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}; allowed: 1 or more")
    queued = [["dvc", "exp", "run", "--queue", "-n", f"{profile}-seed-{s}", *set_arguments, "-S", f"seed={s}"]
              for s in range(base_seed, base_seed + n)]
    return [*queued, ["dvc", "queue", "start", "-j", str(jobs)]]


def wait(poll_seconds: float = 10.0) -> None:
    """Until `dvc queue status` shows nothing queued or running. DVC's workers can stop with tasks still queued
    (treeverse/dvc#10562); then the queue is started again, as its maintainers advise."""
    stalled = 0
    while True:
        status = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True).stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            print(status)
            return
        stalled = stalled + 1 if "Running" not in status and "0 active, 0 idle" in status else 0
        if stalled == 3:
            subprocess.run(["dvc", "queue", "start"], check=True)
            stalled = 0
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.workflow.seeds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("n", type=int, help="how many seeds (2 or more)")
    parser.add_argument("--jobs", type=int, default=1, help="queue workers at once (default: %(default)s)")
    parser.add_argument("--quick-file", type=Path, default=Path("profiles/quick.txt"))
    parser.add_argument("--print", action="store_true", help="print the dvc commands instead of running them")
    args = parser.parse_args(argv)
    set_arguments = set_args(args.profile, args.quick_file)
    base_seed = yaml.safe_load(Path("params.yaml").read_text())["seed"]
    try:
        todo = commands(args.profile, args.n, base_seed, args.jobs, set_arguments)
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    if args.print:
        print("\n".join(shlex.join(c) for c in todo))
        return
    problem = preflight(set_arguments)
    if problem:
        parser.exit(2, problem + "\n")
    for command in todo:
        print("+ " + shlex.join(command), flush=True)
        if subprocess.run(command).returncode != 0:
            sys.exit(f"{shlex.join(command)} failed")
    wait()
    from difflab.reporting.compare import main as compare

    compare([])


if __name__ == "__main__":
    main()
