"""Runs side by side: one row per run (the workspace, each baseline commit, each DVC experiment), the profile it ran
with, the models' headline numbers (reports/summary.json) and the params in which it differs from its own profile.

    python -m difflab.reporting.compare              # what `make compare` runs (and `make run` ends with)
    python -m difflab.reporting.compare -- -A        # anything after -- is an option of `dvc exp show` (-A, -n 3, ...)
    python -m difflab.reporting.compare --width 80   # the table's width (default: the terminal's, or $COLUMNS, or 120)
    python -m difflab.reporting.compare --show parta # other headline columns: part A's rates, the DDPM's beside the
                                                     # flow model's (or any headline keys: --show psnr,acc_flow)
    python -m difflab.reporting.compare --dvc        # DVC's own table instead, narrowed to the same columns
    python -m difflab.reporting.compare --page A B   # a page with runs A and B side by side: headline and every
                                                     # figure (reporting/compare_page.py; A, B: git revisions,
                                                     # experiment names or `workspace`), in compare/A_vs_B/index.html

Each experiment's numbers are marked against its baseline commit's (the workspace's against the commit it is on):
`*` where their 95 % intervals do not overlap (a difference beyond the noise of sampling), `~` where they do
(within noise); no mark where either run has no interval, or where the two numbers are equal. Where the baseline
has no numbers of the run's profile (a fresh clone's commit has none), the run is marked against the published
reference run of its profile instead (results/<name>/, reporting/reference.py: the paper run on one H200), which is
shown last as a row of its own, marked "(reference)". Experiments under one baseline that differ only in `seed`
get one more row: each number's mean and standard deviation over those seeds (`make seeds` runs such a sweep).

A run's profile is the `profile` param it ran with; its reference is params.yaml of its baseline commit, with that
commit's profiles/quick.txt applied when the profile is quick. So the first quick run shows no changed knob, and a
later `dvc exp run -S ddpm_class.guidance_scale=5` shows exactly that one, whatever else the profile overrides. DVC's
own `dvc exp show` compares every run with params.yaml instead, and collapses its columns when the quick profile's
forty overrides do not fit (`--dvc` shows it, narrowed to the headline and the params that differ).

The runs come from DVC in this process (`Repo.experiments.show`, what `dvc exp show --json` prints), and the table
is drawn by rich. Not `dvc.api.exp_show`: that returns DVC's table, every value text or a float (5 becomes 5.0,
True and a list their text), a name prefixed with its file where two files share it, a damaged metric file a "!".
"""

import argparse
import functools
import io
import json
import logging
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path

import yaml
from rich import box
from rich.console import Console
from rich.table import Table

from difflab.config.metric_files import Summary
from difflab.config.params import flatten
from difflab.errors import InputError, damaged
from difflab.config.profiles import override_value, parse_overrides, with_overrides
from difflab.reporting.reference import Reference, of_profile, published
from difflab.reporting.summary import HEADLINE, difference

# The headline columns shown by default: the quality of the three models. --show picks others: a group of COLUMNS
# or any headline numbers; all of them are in reports/summary.json and `dvc metrics diff`.
SHOWN = ("psnr", "fd_time", "acc_cfg", "fd_cfg")
COLUMNS = {"models": SHOWN,
           "flow": ("fd_flow_time", "acc_flow", "fd_flow"),  # flow matching's time and class models
           "parta": ("anagram", "anagram_flow", "hybrid", "hybrid_flow",  # part A's rates, the DDPM's beside the
                     "inpaint", "inpaint_flow", "sdedit", "sdedit_flow")}  # flow model's
NUMBERS = tuple(k for k, (_, decimals) in HEADLINE.items() if decimals is not None)
assert all(set(c) <= set(NUMBERS) for c in COLUMNS.values())
SUMMARY = "reports/summary.json"
QUICK_FILE = "profiles/quick.txt"
MIN_CHANGES_WIDTH = 24  # narrower than this, a run's changed params go on lines of their own below it


@dataclass
class Run:
    name: str  # "workspace", a branch or short commit, or "  <experiment>" (indented under its baseline)
    profile: str
    metrics: dict  # the headline (reports/summary.json), {} where the run has none
    changes: list[str] = field(default_factory=list)  # "key=value" where the run differs from its profile
    reference: dict | None = None  # the headline of the run it is marked against (its baseline's), if any
    spread: dict = field(default_factory=dict)  # key -> standard deviation, for a row of means over seeds
    seed: object = None  # the `seed` param it ran with
    published: str | None = None  # the results/ folder of a published reference run (not a run of this clone)


# -- what each run is compared with ------------------------------------------------------------------------------

def git_show(rev: str, path: str) -> str | None:
    """The text of `path` at git revision `rev` (the working tree's file for "workspace"), None where it has none."""
    if rev == "workspace":
        return Path(path).read_text() if Path(path).is_file() else None
    out = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def profile_params(profile: str, baseline: str, read=git_show) -> dict | None:
    """params.yaml of the baseline commit, with its profiles/quick.txt applied for the quick profile; None where
    the commit has no params.yaml. The workspace's reference is HEAD's: a run is compared with what is committed."""
    rev = "HEAD" if baseline == "workspace" else baseline
    text = read(rev, "params.yaml")
    if text is None:
        return None
    params = yaml.safe_load(text)
    if profile == "quick":
        overrides = parse_overrides(read(rev, QUICK_FILE) or "", f"{rev}:{QUICK_FILE}")
        params = with_overrides(params, [a for k, v in overrides.items() for a in ("-S", f"{k}={v}")])
    return params


def _same(a, b) -> bool:
    """Equal as params: 3e-3 and 0.003 are one value, whether YAML read it as a number or a string."""
    if isinstance(a, (bool, list, dict)) or isinstance(b, (bool, list, dict)):
        return type(a) is type(b) and a == b  # True is not 1
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def changed(params: dict, reference: dict) -> list[str]:
    """'key=value' for every param of `params` that differs from `reference` ('key=(none)' for one it lacks)."""
    ours, theirs = flatten(params), flatten(reference)
    out = [f"{k}={override_value(v)}" for k, v in ours.items()
           if k != "profile" and (k not in theirs or not _same(v, theirs[k]))]
    return out + [f"{k}=(none)" for k in theirs if k not in ours and k != "profile"]


# -- DVC's experiments as rows ------------------------------------------------------------------------------------

def _data(state: dict) -> tuple[dict | None, dict]:
    """A run's params.yaml and headline as DVC read them (None, {} where it has none); DamagedFile naming the
    headline where the run has one that DVC could not read (DVC gives the error, not the file's numbers)."""
    data = state.get("data") or {}
    params = (data.get("params") or {}).get("params.yaml", {}).get("data")
    summary = (data.get("metrics") or {}).get(SUMMARY, {})
    error = summary.get("error") or {}
    if error and error.get("type") != "FileNotFoundError":  # there, but DVC could not read it
        rev = state.get("rev", "workspace")
        raise damaged(SUMMARY if rev == "workspace" else f"{SUMMARY} of {_short(rev)}", "metric file",
                      f"{error.get('type')}: {error.get('msg')}", "summary", cached=False)
    return params, summary.get("data") or {}


def _short(rev: str) -> str:
    return rev[:7] if re.fullmatch(r"[0-9a-f]{40}", rev) else rev


def marked_against(run: Run, baseline: dict, references: list[Reference]) -> dict | None:
    """The headline a run's numbers are marked against: its baseline's where the baseline measured the run's profile
    (a headline without a profile is taken to be of it), else the published reference of its profile, else none."""
    if baseline and baseline.get("profile", run.profile) == run.profile:
        return baseline
    reference = of_profile(run.profile, references)
    return reference.summary if reference else None


def _changes(params: dict, reference: dict | None, baseline: str) -> list[str]:
    """changed() against the run's profile (`reference`: profile_params of its baseline), or why there is none."""
    return changed(params, reference) if reference is not None else [f"(no params.yaml at {_short(baseline)})"]


def reference_rows(references: list[Reference], read=git_show) -> list[Run]:
    """Each published reference as a row (named "<folder> (reference)"), with the params in which it differs from
    its profile as committed at HEAD."""
    return [Run(f"{ref.name} (reference)", ref.profile, ref.summary,
                _changes(ref.params, profile_params(ref.profile, "HEAD", read), "HEAD"), published=ref.name)
            for ref in references]


def runs(shown: list[dict], read=git_show, references: list[Reference] = ()) -> list[Run]:
    """DVC's experiments (`shown`: what experiments() returns) as rows: each baseline (the workspace first), then its
    experiments indented, then the published reference runs."""
    references = list(references)
    profile_of = functools.cache(lambda profile, baseline: profile_params(profile, baseline, read))  # read once

    def row(state: dict, baseline: str, name: str, note: str = "") -> Run:
        params, metrics = _data(state)
        if params is None:
            return Run(name + note, "?", metrics, ["(no params.yaml)"] if not note else [])
        profile = str(params.get("profile", "paper"))
        return Run(name + note, profile, metrics, _changes(params, profile_of(profile, baseline), baseline),
                   seed=params.get("seed"))

    rows = []
    for i, base in enumerate(shown):
        rev = base["rev"]
        baseline = row(base, rev, base.get("name") or _short(rev))
        if rev == "workspace":  # the workspace against the commit it is on
            baseline.reference = marked_against(baseline, _data(shown[i + 1])[1] if i + 1 < len(shown) else {},
                                                references)
        rows.append(baseline)
        experiments = []
        for exp in base.get("experiments") or []:
            state = exp["revs"][0]  # the experiment's latest commit
            executor = exp.get("executor") or {}
            note = f" ({executor['state']})" if executor.get("state") in ("queued", "running", "failed") else ""
            experiment = row(state, rev, "  " + (exp.get("name") or state.get("name") or _short(state["rev"])), note)
            experiment.reference = marked_against(experiment, baseline.metrics, references)
            experiments.append(experiment)
        rows += experiments + seed_groups(experiments)
    return rows + reference_rows(references, read)


def seed_groups(experiments: list[Run]) -> list[Run]:
    """A row per set of finished experiments that differ only in `seed`, with two or more seeds among them (the
    profile's own seed too: its run shows no seed change): each headline number's mean over them, with its
    standard deviation (spread), and the seeds in its changes."""
    groups: dict[tuple, list[Run]] = {}
    for r in experiments:
        if r.metrics:
            rest = tuple(c for c in r.changes if not c.startswith("seed="))
            groups.setdefault((r.profile, rest), []).append(r)
    out = []
    for (profile, rest), members in groups.items():
        distinct = {str(m.seed) for m in members}
        if len(distinct) < 2 or len(distinct) != len(members):
            continue  # one seed, or one seed run twice: not a sweep over seeds
        means, spread = {}, {}
        for key in NUMBERS:
            values = [m.metrics[key] for m in members if isinstance(m.metrics.get(key), (int, float))]
            if len(values) == len(members):
                means[key], spread[key] = statistics.fmean(values), statistics.stdev(values)
        seeds = ",".join(str(m.seed) for m in members)
        out.append(Run(f"  mean of {len(members)} seeds", profile, means, [*rest, f"seed in {seeds}"],
                       spread=spread))
    return out


# -- the table ----------------------------------------------------------------------------------------------------

MARKS = {"differs": "*", "within noise": "~", "": ""}
CHANGED = "changed from its profile"
# rich's box with no lines but a rule of "-" under the header (ASCII: a log file may not take box-drawing characters)
RULE = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def _cell(key: str, value, run: Run | None = None) -> str:
    """A headline number as the summary rounds it (1.000, not 1), "-" where there is none; marked against the run's
    reference (MARKS), or with its spread over seeds ("+-")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and HEADLINE[key][1] is not None:
        text = f"{value:.{HEADLINE[key][1]}f}"
        if run is not None and key in run.spread:
            return f"{text}+-{run.spread[key]:.{HEADLINE[key][1]}f}"
        if run is not None and run.reference is not None and run.reference.get(key) != value:  # (equal: no mark)
            text += MARKS[difference(run.metrics, run.reference, key)]
        return text
    return "-" if value is None else str(value)


def columns_of(text: str) -> tuple[str, ...]:
    """--show's value as headline keys: a group of COLUMNS, or headline numbers separated by commas; ValueError
    naming what is not one and what is allowed."""
    if text in COLUMNS:
        return COLUMNS[text]
    keys = tuple(k.strip() for k in text.split(","))
    unknown = [k for k in keys if k not in NUMBERS]
    if unknown or len(set(keys)) != len(keys):
        raise ValueError(f"--show {text!r}: {', '.join(unknown) or 'a column twice'}; allowed: one of "
                         f"{', '.join(COLUMNS)}, or headline numbers separated by commas ({', '.join(NUMBERS)})")
    return keys


def render(rows: list[Run], width: int, shown: tuple[str, ...] = SHOWN) -> str:
    """The rows as a table at most `width` columns wide: run, profile, the `shown` headline numbers and, where any
    run differs from its profile, its changed params wrapped in the last column (or below the run, indented, where
    the last column would be narrower than MIN_CHANGES_WIDTH or than its longest item), then what the columns and
    marks mean. No column is ever dropped: narrower than the numbers, each run is a paragraph."""
    header = ["run", "profile", *shown]
    cells = [[r.name, r.profile, *(_cell(k, r.metrics.get(k), r) for k in shown)] for r in rows]
    fixed = sum(max(map(len, column)) for column in zip(header, *cells)) + 2 * (len(header) - 1)
    longest = max((len(c) for r in rows for c in r.changes), default=0)
    if fixed > width:  # no table: no notes either (a note's long word would overflow)
        return "\n".join(_paragraphs(rows, cells, shown, width))
    if longest and width - fixed - 2 >= max(MIN_CHANGES_WIDTH, longest):
        lines = _drawn([*header, CHANGED], [[*c, ", ".join(r.changes)] for r, c in zip(rows, cells)], width)
    else:
        lines = _changes_below(rows, _drawn(header, cells, width), width)
    return "\n".join(lines + _notes(rows, cells, shown, width))


def _drawn(header: list[str], cells: list[list[str]], width: int) -> list[str]:
    """The table as rich draws it: the header, a rule, each row on a line of its own but for the changes (CHANGED),
    which wrap between their items; names and profiles left, numbers right."""
    table = Table(box=RULE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 2 or name == CHANGED else "right", no_wrap=name != CHANGED,
                         overflow="fold")
    for row in cells:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None, markup=False, emoji=False, highlight=False)
    console.print(table)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def _changes_below(rows: list[Run], lines: list[str], width: int) -> list[str]:
    """The drawn table with each run's changes on lines of their own below it, indented (an item longer than a line
    cut, not overflowing)."""
    out = lines[:2]
    for r, line in zip(rows, lines[2:]):
        out.append(line)
        if r.changes:
            out += textwrap.wrap("changed: " + ", ".join(r.changes), width, initial_indent="    ",
                                 subsequent_indent="      ", break_on_hyphens=False)
    return out


def _paragraphs(rows: list[Run], cells: list[list[str]], shown: tuple[str, ...], width: int) -> list[str]:
    """Each run as a paragraph, for a width too narrow for the numbers side by side."""
    return [line for r, c in zip(rows, cells) for line in textwrap.wrap(
        f"{r.name.strip()} ({r.profile}): " + ", ".join(f"{k} {v}" for k, v in zip(shown, c[2:]))
        + (f"; changed: {', '.join(r.changes)}" if r.changes else ""),
        width, subsequent_indent="    ", break_on_hyphens=False)]


def _notes(rows: list[Run], cells: list[list[str]], shown: tuple[str, ...], width: int) -> list[str]:
    """What the columns, marks and special rows mean, wrapped to `width`."""
    notes = [] if any(r.changes for r in rows) else [
        "No run differs from its profile (quick: profiles/quick.txt over params.yaml; paper: params.yaml)."]
    notes += [f"{k}: {HEADLINE[k][0]}" for k in shown] + ["-: not measured, or no results yet"]
    if any(c[-1:] in ("*", "~") for line in cells for c in line[2:]):
        notes.append("* differs from its baseline beyond noise (95 % intervals apart); ~ within noise (they overlap)"
                     + ("; a run whose baseline has no numbers of its profile is marked against the reference of "
                        "that profile" if any(r.published for r in rows) else ""))
    notes += [f"{r.name}: the published {r.profile} run in results/{r.published}/ (its README: machine, software, "
              "commit), not a run of this clone" for r in rows if r.published]
    if any(r.spread for r in rows):
        notes.append("mean of N seeds: each number's mean +- its standard deviation over those runs")
    return [line for note in notes for line in textwrap.wrap(note, width, subsequent_indent="  ",
                                                             break_long_words=False, break_on_hyphens=False)]


def table_width(explicit: int | None = None) -> int:
    """--width, else the terminal's width (or $COLUMNS), else 120 (a log file)."""
    return explicit or shutil.get_terminal_size((120, 24)).columns


# -- DVC's own table, narrowed (--dvc) -----------------------------------------------------------------------------

def _alternatives(names) -> str:
    return "|".join(re.escape(n) for n in names)


def show_args(param_keys: list[str], extra: list[str] = (), columns: tuple[str, ...] = SHOWN) -> list[str]:
    """`dvc exp show` with the headline's `columns`, the changed params' columns and nothing else."""
    shown, params = _alternatives(columns), _alternatives(param_keys)
    # DVC matches each pattern at the start of a column name (re.match). --keep protects the shown columns from
    # --only-changed and --drop; --only-changed removes every column whose value all rows share; --drop removes
    # what is left apart from the headline and the params (named params.yaml:<key> where a metric has the same
    # name: `profile`).
    return ["dvc", "exp", "show", "--no-pager", "--only-changed",
            "--keep", f"(Experiment|{shown})$",
            "--drop", rf"(?!(Experiment|{shown})$)(?!(params\.yaml:)?({params})(\.|$))",
            *extra]


# -- DVC's experiments, read in this process ----------------------------------------------------------------------

SHOW_OPTIONS = ("all_branches", "all_tags", "all_commits", "hide_queued", "hide_failed", "hide_workspace", "num",
                "param_deps", "fetch_running", "force")  # what `dvc exp show` hands Repo.experiments.show


def experiments(options: list[str] = ()) -> list[dict]:
    """What `dvc exp show --json <options>` prints (each baseline, with its experiments under it), read in this
    process: DVC's own parser reads the options (-A, -n 3, --rev ...; DvcParserError, after DVC has said why, on
    one it lacks), and Repo.experiments.show collects the runs as that command does."""
    from dvc.cli import parse_args
    from dvc.repo import Repo

    args = parse_args(["exp", "show", *options])
    logging.getLogger("dvc").setLevel(logging.CRITICAL)  # no progress bar or note amid the table: errors raise
    with Repo() as repo:
        states = repo.experiments.show(revs=args.rev, sha_only=args.sha, **{k: getattr(args, k) for k in SHOW_OPTIONS})
    return json.loads(json.dumps(states, default=_as_json))


def _as_json(value):
    """A value of DVC's runs as `dvc exp show --json` writes it: a dataclass as its fields, an error as its type and
    message, a time as its text. (That command's own dataclasses.asdict stops on an error it cannot copy, such as
    the one DVC reads from random bytes in a committed metric file: here it is named, as any other.)"""
    if is_dataclass(value):
        return vars(value)
    return {"type": type(value).__name__, "msg": str(value)} if isinstance(value, Exception) else str(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m difflab.reporting.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="whose top-level keys are the params (default: %(default)s)")
    parser.add_argument("--width", type=int, help="the table's width in columns (default: the terminal's)")
    parser.add_argument("--show", default="models", metavar="COLUMNS",
                        help=f"the headline columns: {', '.join(COLUMNS)} (part A's rates, the DDPM's beside the flow "
                             "model's), or headline keys separated by commas (default: %(default)s)")
    parser.add_argument("--dvc", action="store_true", help="DVC's own `dvc exp show` table, narrowed")
    parser.add_argument("--print", action="store_true", help="with --dvc: print the dvc command instead")
    parser.add_argument("--page", nargs=2, metavar=("A", "B"),
                        help="write a page comparing runs A and B (git revisions, experiment names or workspace)")
    parser.add_argument("extra", nargs="*", help="more `dvc exp show` options (after --)")
    return parser


def _dvc(args: argparse.Namespace, columns: tuple[str, ...]) -> None:
    """--dvc: DVC's own table, narrowed to the headline `columns` and the params (--print: the command)."""
    command = show_args(list(yaml.safe_load(args.params.read_text())), args.extra, columns)
    if args.print:
        print(shlex.join(command))
        return
    sys.stdout.flush()
    os.execvp(command[0], command)


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)

    def fail(message) -> None:
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    if not args.params.is_file():
        fail(f"{args.params} not found: run it in the project's root")
    if args.width is not None and args.width < 20:
        fail(f"--width {args.width}; allowed: 20 columns or more")
    try:
        columns = columns_of(args.show)
    except ValueError as e:
        fail(e)
    if args.dvc or args.print:
        return _dvc(args, columns)
    from dvc.cli import DvcParserError  # (DVC's logging binds the stdout of its first import)
    from dvc.exceptions import DvcException

    try:
        if args.page:
            from difflab.reporting.compare_page import render_comparison
            print(f"wrote {render_comparison(*args.page)}")
        else:
            if Path(SUMMARY).is_file():  # the workspace's headline, read first: DVC stops on some damage unnamed
                Summary.read(SUMMARY, "summary")
            print(render(runs(experiments(args.extra), references=published()), table_width(args.width), columns))
    except DvcParserError:
        parser.exit(2)  # DVC has said which option it lacks
    except (InputError, DvcException) as e:  # an unknown run, a damaged metric file, DVC's own error: named
        fail(e)


if __name__ == "__main__":
    main()
