"""Profiles as `dvc exp run -S` overrides, so every run's parameters are visible to DVC.

    python -m difflab.config.profiles quick        # the -S arguments of the quick CPU profile (profiles/quick.txt)
    python -m difflab.config.profiles paper        # the same keys set back to their committed params.yaml values

`make run` hands them to `dvc exp run` (difflab/workflow/run.py) after the pre-flight below.

The paper profile is params.yaml as committed; naming its values explicitly undoes a quick run that left its
overrides in the workspace's params.yaml (as `dvc exp run` does). Printed arguments are shell-quoted; `make run`
hands them to DVC as an argument list, so no value is ever split by a shell.
"""

import argparse
import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from difflab.config.params import ParamError, check, flatten

PROFILES = ("quick", "paper")


def parse_overrides(text: str, source: str) -> dict[str, str]:
    """A profile's key=value lines ('#' starts a comment) as {key: value}; `source` names the file in errors."""
    overrides = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{source}:{n}: {line!r}; allowed: key=value lines")
        overrides[key.strip()] = value.strip()
    return overrides


def read_overrides(path: Path) -> dict[str, str]:
    return parse_overrides(Path(path).read_text(), str(path))


def lookup(params: dict, key: str):
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{key} is not in params.yaml")
        node = node[part]
    return node


def committed_params(path: str = "params.yaml", rev: str = "HEAD") -> dict:
    text = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(text)


def override_value(value) -> str:
    """A params.yaml value as DVC's -S grammar reads it back: scalars as YAML writes them, lists and mappings in
    compact flow style with no spaces."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")


def set_args(profile: str, quick_file: Path = Path("profiles/quick.txt")) -> list[str]:
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r}; allowed: {', '.join(PROFILES)}")
    overrides = read_overrides(quick_file)
    if profile == "paper":
        paper = committed_params()
        overrides = {k: override_value(lookup(paper, k)) for k in overrides}
    return [arg for k, v in overrides.items() for arg in ("-S", f"{k}={v}")]


def with_overrides(params: dict, set_arguments: list[str]) -> dict:
    """params with the -S key=value overrides applied (values read as YAML, as DVC reads them)."""
    params = copy.deepcopy(params)
    for arg in set_arguments[1::2]:
        key, _, value = arg.partition("=")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return params


def preflight(set_arguments: list[str], path: Path = Path("params.yaml")) -> str | None:
    """Before `dvc exp run`: the params the run would get (params.yaml plus the profile's overrides) checked like a
    stage checks them. A bad value, often left in params.yaml by a failed `dvc exp run -S ...`, gives a message
    naming it, the keys that differ from the committed file, and how to reset them; None when all is well."""
    current = yaml.safe_load(path.read_text())
    try:
        check(with_overrides(current, set_arguments))
        return None
    except ParamError as e:
        message = f"params.yaml: {e}"
    try:
        committed = flatten(committed_params(str(path)))
    except (OSError, subprocess.CalledProcessError):
        return message
    differ = {k: v for k, v in flatten(current).items() if committed.get(k, object()) != v}
    differ.update({k: "(missing)" for k in committed.keys() - flatten(current).keys()})
    if differ:
        message += "\nparams.yaml differs from the committed file in: " + ", ".join(
            f"{k}={v!r} (committed: {committed.get(k, '(absent)')!r})" for k, v in sorted(differ.items()))
        message += f"\nreset it with: git checkout -- {path}"
    return message


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("--quick-file", type=Path, default=Path("profiles/quick.txt"))
    args = parser.parse_args(argv)
    sys.stdout.write(shlex.join(set_args(args.profile, args.quick_file)) + "\n")


if __name__ == "__main__":
    main()
