"""What each edit reruns, read off DVC's own graph: the table of docs/pipeline.md ("this edit reruns these stages").

    python -m difflab.workflow.reruns            # the table, as markdown
    python -m difflab.workflow.reruns --check    # exit 1, naming the rows, where docs/pipeline.md's table differs

An edit reruns what `dvc repro --force-downstream` reruns after it: the stages that declare it (a params key, the key
of a section holding it or a key inside it; a file dep, or a folder dep holding the file) and every stage downstream
of them in `repo.index.graph`. Every knob of params.yaml and every module of src/difflab/ is an edit here, grouped
by what they rerun so that the table stays short: a row per set of stages, with the knobs (a whole section written
`section.*`) or modules that rerun it. tests/test_reruns.py checks the docs' table against dvc.yaml, so a change that
widens a rerun fails there, by row.
"""

import argparse
import contextlib
import sys
from collections import defaultdict
from pathlib import Path

import networkx as nx
import yaml

BEGIN, END = "<!-- reruns: made by python -m difflab.workflow.reruns -->", "<!-- reruns: end -->"
DOC = Path("docs/pipeline.md")


def leaves(tree: dict, prefix: str = "") -> list[str]:
    """Every knob of a params tree as a dotted key (a list is one knob)."""
    keys = []
    for k, v in tree.items():
        keys += leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
    return keys


def stage_reads(root: Path | str = ".") -> tuple[nx.DiGraph, dict[str, tuple[set[str], set[str]]]]:
    """DVC's graph of the pipeline stages of the repository at `root` (by name, in dvc.yaml's order, an edge from a
    stage to one whose output it reads) and each stage's declared (params keys, file and folder deps): the one
    loading of DVC's graph, for this table and for workflow/parallel.py's runner."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with contextlib.chdir(root), Repo(".") as repo:  # a stage's address is relative to the working directory
        graph = repo.index.graph
        stages = [s for s in graph if isinstance(s, PipelineStage)]
        names = {s: s.addressing for s in stages}
        reads = {}
        for s in stages:
            params = {k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params}
            paths = {str(d.def_path).rstrip("/") for d in s.deps if not isinstance(d, ParamsDependency)}
            reads[names[s]] = params, paths
        named = nx.relabel_nodes(graph.subgraph(stages), names)
    return named, reads


def reruns(graph: nx.DiGraph, reads: dict, *, knob: str | None = None, path: str | None = None) -> frozenset[str]:
    """The stages that an edit of `knob` (a dotted params key) or of the file `path` reruns: those declaring it, and
    every stage downstream of one (DVC's graph points from a stage to the stages it reads from)."""
    def declares(stage: str) -> bool:
        params, paths = reads[stage]
        if knob is not None:
            return any(knob == k or knob.startswith(k + ".") or k.startswith(knob + ".") for k in params)
        return any(path == p or path.startswith(p + "/") for p in paths)
    return with_downstream(graph, {s for s in reads if declares(s)})


def with_downstream(graph: nx.DiGraph, stages: set[str]) -> frozenset[str]:
    """`stages` and every stage downstream of one of them (`graph`'s edges point to the stages a stage reads from)."""
    return frozenset(set(stages).union(*(nx.ancestors(graph, s) for s in stages)))


def _collapsed(keys: list[str], every: list[str], sep: str) -> list[str]:
    """`keys` written short: a section (a folder, with sep "/") all of whose knobs (files) among `every` are in
    `keys` as `section.*` (`folder/*`)."""
    chosen, out = set(keys), []
    for key in keys:
        parts = key.split(sep)
        for depth in range(1, len(parts)):
            prefix = sep.join(parts[:depth])
            if all(k in chosen for k in every if k.startswith(prefix + sep)):
                key = prefix + sep + "*"
                break
        if key not in out:
            out.append(key)
    return out


def _named(names: set[str], order: list[str]) -> list[str]:
    """Stages in dvc.yaml's order, a foreach whose every item is among them written once as `parta@* (15)`."""
    shown = []
    for name in order:
        if name in names:
            group = name.split("@")[0]
            items = [s for s in order if s.startswith(group + "@")]
            if "@" in name and set(items) <= names:
                name = f"{group}@* ({len(items)})"
            if name not in shown:
                shown.append(name)
    return shown


def _stages(names: frozenset[str], order: list[str]) -> str:
    """A set of stages, or all but those it lacks where that is shorter."""
    if not names:
        return "none"
    left = set(order) - names
    listed, but = ", ".join(_named(set(names), order)), "all" + (f" but {', '.join(_named(left, order))}" if left else "")
    return listed if len(listed) <= len(but) else but


def table(root: Path | str = ".") -> str:
    """The markdown table: a row per set of stages that some edit reruns, knobs first, then modules."""
    root = Path(root)
    graph, reads = stage_reads(root)
    order = list(reads)  # dvc.yaml's
    knobs = leaves(yaml.safe_load((root / "params.yaml").read_text()))
    modules = sorted(str(p.relative_to(root)) for p in (root / "src" / "difflab").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)
    rows = []
    for kind, edits, key in (("knob", knobs, "knob"), ("module", modules, "path")):
        groups: dict[frozenset[str], list[str]] = defaultdict(list)
        for edit in edits:
            groups[reruns(graph, reads, **{key: edit})].append(edit)
        for stages, members in sorted(groups.items(), key=lambda g: (len(g[0]), sorted(g[0]))):
            shown = [m.removeprefix("src/difflab/") for m in _collapsed(members, edits, "." if kind == "knob" else "/")]
            rows.append(f"| {kind} | {', '.join(f'`{m}`' for m in shown)} | {len(stages)} | {_stages(stages, order)} |")
    head = ["| edit | of | stages | which |", "| --- | --- | ---: | --- |"]
    return "\n".join(head + rows) + "\n"


def documented(doc: Path = DOC) -> str:
    """The table between docs/pipeline.md's markers."""
    text = doc.read_text()
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help=f"compare with {DOC}'s table; exit 1 where they differ")
    args = parser.parse_args(argv)
    made = table()
    if not args.check:
        print(made, end="")
        return
    old, new = set(documented().splitlines()), set(made.splitlines())
    if old != new:
        sys.exit(f"{DOC}'s table is not what dvc.yaml reruns:\n" + "".join(f"  only in {DOC}: {r}\n" for r in old - new)
                 + "".join(f"  only in dvc.yaml: {r}\n" for r in new - old)
                 + "run python -m difflab.workflow.reruns and paste its table there")


if __name__ == "__main__":
    main()
