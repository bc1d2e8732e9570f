"""Runs side by side, the DVC way: `dvc exp show` narrowed to the models' headline numbers (reports/summary.json)
and the params that differ between the experiments shown, readable in a 120-column terminal.

    python -m difflab.reporting.compare              # what `make compare` runs (and `make run` ends with)
    python -m difflab.reporting.compare --print      # only print the dvc command, to copy and extend
    python -m difflab.reporting.compare -- -A --md   # anything after -- goes to `dvc exp show` as well
    python -m difflab.reporting.compare --page A B   # a page with runs A and B side by side: headline and every
                                                     # figure (reporting/compare_page.py; A, B: git revisions,
                                                     # experiment names or `workspace`), in compare/A_vs_B/index.html

It is one `dvc exp show` call; only its column filters are built here, from params.yaml's top-level keys and the
headline's keys: --keep those headline columns (shown even where every run agrees), --only-changed for the params,
--drop
everything else (the other metric files' columns, every dependency's hash, Created).
"""

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

import yaml

from difflab.reporting.summary import HEADLINE

# The headline columns shown: the quality of the three models. The rest of the headline (part A rates, the floor,
# the judge, training seconds, the profile) stays in reports/summary.json and `dvc metrics diff`, or comes back
# with `python -m difflab.reporting.compare -- --keep 'anagram|hybrid|s_'`: so the params that differ fit beside them
# in 120 columns, also where a revision without results (a fresh clone's HEAD) shows `!` in every metric column.
SHOWN = ("psnr", "fd_time", "acc_cfg", "fd_cfg")
assert set(SHOWN) <= set(HEADLINE)


def _alternatives(names) -> str:
    return "|".join(re.escape(n) for n in names)


def show_args(param_keys: list[str], extra: list[str] = ()) -> list[str]:
    """`dvc exp show` with the headline's columns, the changed params' columns and nothing else."""
    shown, params = _alternatives(SHOWN), _alternatives(param_keys)
    # DVC matches each pattern at the start of a column name (re.match). --keep protects the SHOWN columns from
    # --only-changed and --drop; --only-changed removes every column whose value all rows share; --drop removes
    # what is left apart from the headline and the params (named params.yaml:<key> where a metric has the same
    # name: `profile`).
    return ["dvc", "exp", "show", "--no-pager", "--only-changed",
            "--keep", f"(Experiment|{shown})$",
            "--drop", rf"(?!(Experiment|{shown})$)(?!(params\.yaml:)?({params})(\.|$))",
            *extra]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m difflab.reporting.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="whose top-level keys are the params (default: %(default)s)")
    parser.add_argument("--print", action="store_true", help="print the dvc command instead of running it")
    parser.add_argument("--page", nargs=2, metavar=("A", "B"),
                        help="write a page comparing runs A and B (git revisions, experiment names or workspace)")
    parser.add_argument("extra", nargs="*", help="more `dvc exp show` arguments (after --)")
    args = parser.parse_args(argv)
    if not args.params.is_file():
        parser.exit(2, f"{parser.prog}: error: {args.params} not found: run it in the project's root\n")
    if args.page:
        from difflab.reporting.compare_page import UnknownRun, render_comparison
        try:
            print(f"wrote {render_comparison(*args.page)}")
        except UnknownRun as e:
            parser.exit(2, f"{parser.prog}: error: {e}\n")
        return
    command = show_args(list(yaml.safe_load(args.params.read_text())), args.extra)
    if args.print:
        print(shlex.join(command))
        return
    sys.stdout.flush()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
