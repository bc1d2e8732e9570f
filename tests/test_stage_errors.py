"""The part A stages tell input errors from bugs: the project's own input errors (errors.InputError: a prompt, a
view, an image, a params value) print one line and exit 2; any other exception, a plain ValueError included, is a
bug and keeps its traceback."""

import ast

import pytest
import yaml
from helpers import ROOT, run_stage

from difflab.config.params import ParamError
from difflab.errors import InputError, PromptError, exit_on_input_error
from difflab.parta.images import ImageError
from difflab.core.views import ViewError


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding the committed params.yaml (part A on the project's own model), as a stage's working dir."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["parta"]["model"] = "mnist"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_input_error_is_one_class():
    for error in (PromptError, ViewError, ImageError):
        assert issubclass(error, InputError) and issubclass(error, ValueError)


@pytest.mark.parametrize("error", [ViewError("views ['spin']: unknown; allowed: identity, flip"),
                                   PromptError("prompt 'Trouser': the model understands the labels '0' .. '9'"),
                                   ImageError("image 'x.png': file not found"),
                                   ParamError("parta.model='sd'; allowed: mnist, deepfloyd_if")])
def test_an_input_error_is_one_line_and_exit_2(capsys, error):
    with pytest.raises(SystemExit) as exit_, exit_on_input_error("parta anagram"):
        raise error
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"parta anagram: {error}\n"


@pytest.mark.parametrize("error", [ValueError("operands could not be broadcast together"),
                                   RuntimeError("shape mismatch"), FileNotFoundError("models/judge/final")])
def test_a_bug_keeps_its_traceback(capsys, error):
    """A plain ValueError from inside the library (a bug, or torch's own) is not the user's input: it propagates."""
    with pytest.raises(type(error), match=str(error)), exit_on_input_error("parta anagram"):
        raise error
    assert capsys.readouterr().err == ""


def test_every_stage_reports_input_errors_the_one_way():
    """No stage catches an InputError (or a subclass) itself: exit_on_input_error is the one place that prints it."""
    names = {"InputError", "PromptError", "ViewError", "ImageError", "ParamError"}
    for script in sorted((ROOT / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                assert not caught & names, f"{script.name}:{node.lineno} catches {caught & names} itself"


def test_embed_prompts_bad_prompt_is_one_line_and_exit_2(workdir):
    """End to end, as dvc runs it: an MNIST prompt that names no class, one line, exit 2, nothing written."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["parta"]["mnist"]["one_step"]["prompt"] = "Trouser"  # a Fashion-MNIST class; data.dataset is mnist
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    out = run_stage(["embed_prompts.py"], workdir)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("embed_prompts: prompt 'Trouser': the model understands the labels")
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (workdir / "data").exists()


def test_embed_prompts_writes_a_file_per_experiment_and_a_changed_prompt_changes_only_its_own(workdir):
    """embed_prompts writes each experiment's conditions (its prompts and the null prompt, not an anagram's views)
    to a file of its own: after a changed prompt of one experiment the other files are the same bytes, so DVC reruns
    only the experiment that looks the prompt up."""
    from difflab.config.experiments import PART_A
    from difflab.parta.conditions import ConditionCache

    assert run_stage(["embed_prompts.py"], workdir).returncode == 0
    files = {e.name: workdir / "data" / "prompts" / f"{e.name}.safetensors" for e in PART_A}
    assert sorted(p.name for p in (workdir / "data" / "prompts").iterdir()) == sorted(p.name for p in files.values())
    anagram = {p for entry in yaml.safe_load((workdir / "params.yaml").read_text())["parta"]["mnist"]["anagram"][
        "anagrams"] for p in entry["prompts"]}
    assert set(ConditionCache(files["anagram"], "mnist").conds) == {"", *anagram}  # its prompts, not its views
    assert set(ConditionCache(files["forward"], "mnist").conds) == {""}  # no prompt: the null one alone
    assert set(ConditionCache(files["cfg"], "mnist").conds) == {"", "0", "2", "4", "6", "8"}
    before = {name: path.read_bytes() for name, path in files.items()}
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["parta"]["mnist"]["cfg"]["prompts"] = ["1", "3"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(["embed_prompts.py"], workdir).returncode == 0
    changed = [name for name, path in files.items() if path.read_bytes() != before[name]]
    assert changed == ["cfg"] and set(ConditionCache(files["cfg"], "mnist").conds) == {"", "1", "3"}
