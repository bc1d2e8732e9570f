"""The profiles: what `make run` hands to `dvc exp run`, checked against DVC's own parser."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from difflab.config import profiles

ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1",
           GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")


def sh(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A git + DVC repository with the project's dvc.yaml, params.yaml and quick profile, committed."""
    for item in ("dvc.yaml", "params.yaml", "profiles"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        assert sh(cmd, tmp_path).returncode == 0
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pairs(args: list[str]) -> dict[str, str]:
    assert args[::2] == ["-S"] * (len(args) // 2)
    return dict(a.split("=", 1) for a in args[1::2])


def queued_params(repo: Path) -> list[dict]:
    out = sh(["dvc", "exp", "show", "--json"], repo)
    assert out.returncode == 0, out.stderr
    return [rev["data"]["params"]["params.yaml"]["data"]
            for row in json.loads(out.stdout) for exp in row.get("experiments") or [] for rev in exp["revs"]]


@pytest.mark.slow
@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_dvc_parses_and_queues_each_profile_as_given(repo, profile):
    args = profiles.set_args(profile)
    out = sh(["dvc", "exp", "run", "--queue", *args], repo)
    assert out.returncode == 0, out.stdout + out.stderr
    [queued] = queued_params(repo)
    for key, value in pairs(args).items():
        assert profiles.lookup(queued, key) == yaml.safe_load(value), key
    if profile == "paper":  # the paper profile is params.yaml as committed
        committed = yaml.safe_load((repo / "params.yaml").read_text())
        assert queued == committed


@pytest.mark.slow
def test_a_list_split_by_a_shell_is_what_broke_the_paper_profile(repo):
    """The bug this guards: a list value with spaces, word-split by the shell, is refused by DVC's parser."""
    out = sh(["dvc", "exp", "run", "--queue", "-S", "eval.guidance_scales=[0.0,", "1.0]"], repo)
    assert out.returncode != 0 and "no viable alternative" in out.stdout + out.stderr


@pytest.mark.slow
def test_quick_profile_is_the_file_and_paper_the_committed_values(repo):
    quick = pairs(profiles.set_args("quick"))
    assert quick == profiles.read_overrides(repo / "profiles/quick.txt")
    committed = yaml.safe_load((repo / "params.yaml").read_text())
    paper = pairs(profiles.set_args("paper"))
    assert paper.keys() == quick.keys()
    assert {k: yaml.safe_load(v) for k, v in paper.items()} == {k: profiles.lookup(committed, k) for k in paper}
    assert all(" " not in v for v in paper.values())


@pytest.mark.slow
def test_printed_arguments_survive_the_shell(repo, capsys):
    for profile in profiles.PROFILES:
        profiles.main([profile])
        assert shlex.split(capsys.readouterr().out) == profiles.set_args(profile)


@pytest.mark.parametrize("text, problem", [("denoiser.epochs 3\n", "key=value"), ("=3\n", "key=value")])
def test_malformed_profile_lines_are_named(tmp_path, text, problem):
    path = tmp_path / "quick.txt"
    path.write_text("# a comment\n\n" + text)
    with pytest.raises(ValueError, match=rf"quick.txt:3: .*{problem}"):
        profiles.read_overrides(path)


@pytest.mark.slow
def test_unknown_keys_and_profiles_are_refused(repo, tmp_path):
    with pytest.raises(ValueError, match="allowed: quick, paper"):
        profiles.set_args("fast")
    bad = tmp_path / "bad.txt"
    bad.write_text("denoiser.width=3\n")
    with pytest.raises(KeyError, match="denoiser.width is not in params.yaml"):
        profiles.set_args("paper", bad)


@pytest.mark.slow
def test_the_committed_params_pass_the_preflight_with_either_profile(repo):
    assert profiles.preflight(profiles.set_args("quick")) is None
    assert profiles.preflight(profiles.set_args("paper")) is None


@pytest.mark.slow
def test_the_preflight_refuses_an_unknown_key_in_the_file_or_the_profile(repo, tmp_path):
    """The whole file is checked, sections no stage of this run reads included; and a misspelt override would
    otherwise add a key no stage reads."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ddpm_time"]["ema_decy"] = 0.9
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    problem = profiles.preflight(profiles.set_args("quick"))
    assert problem.startswith("params.yaml: ddpm_time.ema_decy: unknown key; did you mean ema_decay?")
    assert "ddpm_time.ema_decy=0.9 (committed: '(absent)')" in problem
    assert "git checkout -- params.yaml" in problem
    sh(["git", "checkout", "-q", "--", "params.yaml"], repo)
    quick = tmp_path / "quick.txt"
    quick.write_text((repo / "profiles/quick.txt").read_text() + "flow_class.guidance_scal=3.0\n")
    assert profiles.preflight(profiles.set_args("quick", quick)).startswith(
        "params.yaml: flow_class.guidance_scal: unknown key; did you mean guidance_scale?")
