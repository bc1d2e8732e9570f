"""dvc.yaml is honest: every stage lists the stage script and exactly the code that script imports (transitively,
lazy imports included, package __init__.py files where they run code; a role folder src/difflab/<role> only where
it imports every module in it), and every params.yaml key it names exists. The stages are read as DVC resolves them
(helpers.resolved_stages: foreach, stage vars, YAML anchors and merge keys applied)."""

import argparse
import ast
import functools
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, param_keys, resolved_stages

SRC = ROOT / "src"


def module_file(name: str) -> Path:
    path = SRC / Path(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def difflab_imports(path: Path, package: str = "") -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("difflab"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}").is_file()}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("difflab")}
    return found


@functools.cache
def closure(script: Path) -> set[Path]:
    files, todo, seen = set(), list(difflab_imports(script)), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        f = module_file(mod)
        if not f.is_file():
            continue
        files.add(f.relative_to(ROOT))
        package = mod if f.name == "__init__.py" else mod.rsplit(".", 1)[0]
        todo += difflab_imports(f, package)
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run too
    return files


STAGES = resolved_stages()


def stages():
    return list(STAGES.items())


def covers(dep: str, path: Path | str) -> bool:
    """Whether a dep (a file, or a folder: DVC hashes every file in it) covers `path`."""
    return str(path) == dep or str(path).startswith(dep.rstrip("/") + "/")


def covered(dep: str) -> set[Path]:
    """The files a code dep names: itself, or every file in the folder (as DVC hashes it; .dvcignore leaves out
    __pycache__)."""
    path = ROOT / dep
    if path.is_file():
        return {Path(dep)}
    return {p.relative_to(ROOT) for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def rendered(files) -> set[Path]:
    """The templates (a "*.j2" name) the code of `files` renders."""
    return {Path("src/difflab/reporting/templates") / node.value for f in files
            for node in ast.walk(ast.parse((ROOT / f).read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".j2")}


def docstring_only(path: Path) -> bool:
    """Whether a module holds its docstring and nothing else: it runs no code, so no result depends on it."""
    body = ast.parse((ROOT / path).read_text()).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


@pytest.mark.parametrize("name, stage", stages(), ids=[n for n, _ in stages()])
def test_stage_deps_cover_the_code_it_runs(name, stage):
    """Every module the script imports, transitively (a lazy import inside a function too), is a dep: an edit to any
    of them reruns the stage. A package's __init__.py on the way is one too where it runs code; one that holds its
    docstring alone (each below, test_package_files_on_a_stages_way_run_no_code) changes no result and is left out,
    which keeps dvc.lock, which DVC rewrites around every stage, a sixth shorter."""
    script = ROOT / stage["cmd"].split()[1]
    deps = [str(d) for d in stage["deps"]]
    assert str(script.relative_to(ROOT)) in deps
    missing = [str(f) for f in sorted(closure(script))
               if not (f.name == "__init__.py" and docstring_only(f)) and not any(covers(d, f) for d in deps)]
    assert not missing, f"stage {name} runs {missing} but does not list them in deps"


def test_package_files_on_a_stages_way_run_no_code():
    """The package __init__.py files that stages import hold their one-line docstring and nothing else, so a stage
    need not list them (an __init__.py that ran code would have to be a dep of every stage importing its package)."""
    inits = {f for stage in STAGES.values() for f in closure(ROOT / stage["cmd"].split()[1]) if f.name == "__init__.py"}
    assert inits and not [str(f) for f in sorted(inits) if not docstring_only(f)]


@pytest.mark.parametrize("name, stage", stages(), ids=[n for n, _ in stages()])
def test_stage_code_deps_are_code_it_runs(name, stage):
    """Every file a code dep names is a module the script imports (or a template it renders): a folder only where
    the stage imports all of it, so an edit to code a stage does not run (the explorer, the runner, make compare, a
    module of the same folder it does not import) does not rerun it."""
    script = ROOT / stage["cmd"].split()[1]
    runs = closure(script) | rendered(closure(script))
    unused = {d: sorted(str(f) for f in covered(d) - runs) for d in stage["deps"] if d.startswith("src/")}
    unused = {d: files for d, files in unused.items() if files}
    assert not unused, f"stage {name} lists in deps code it does not run: {unused}"


def test_declared_params_exist():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in STAGES.items():
        for key in param_keys(stage):
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"stage {name}: {key} is not in params.yaml"
                node = node[part]


class _Read(Exception):
    """What a stage was handed to read, raised in place of reading it."""


def keys_read(stage: dict, monkeypatch, params_file: Path = ROOT / "params.yaml") -> list[str]:
    """The params keys a stage's script is handed, with the stage's own command line: the script run in this
    process up to that point (config.params.load replaced by a recorder, so no work starts)."""
    import runpy
    import sys

    from difflab.config import params

    def record(path, keys=None):
        raise _Read(list(keys))

    script, *args = stage["cmd"].split()[1:]
    monkeypatch.setattr(params, "load", record)
    monkeypatch.setattr(sys, "argv", [script, *args, "--params", str(params_file)])
    with pytest.raises(_Read) as read:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    return read.value.args[0]


@pytest.mark.parametrize("name, stage", stages(), ids=[n for n, _ in stages()])
def test_a_stage_is_handed_the_params_its_own_entry_declares(name, stage, monkeypatch):
    """dvc.yaml is the one declaration of what a stage reads: each script finds its own entry (the one whose cmd it
    runs, among the stages sharing its script) and is handed exactly the keys DVC resolves for it (and no other:
    test_params shows reading an undeclared knob fails)."""
    assert set(keys_read(stage, monkeypatch)) == set(param_keys(stage)), name


def test_the_declared_keys_follow_the_params_file_the_stage_reads(tmp_path, monkeypatch):
    """A stage's ${...} in dvc.yaml are resolved from the params file it reads (--params), as DVC resolves them from
    the params.yaml beside dvc.yaml: another parta.model there, another section declared; a command no stage runs
    is a ParamError naming the script."""
    from difflab.config.params import ParamError, declared_params

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["parta"]["model"] = "deepfloyd_if"
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(raw))
    keys = keys_read(STAGES["parta@sdedit"], monkeypatch, tmp_path / "other.yaml")
    assert {"parta.deepfloyd_if.common", "parta.deepfloyd_if.sdedit"} <= set(keys)
    assert not any(k.startswith("parta.mnist") for k in keys)
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("model")
    with pytest.raises(ParamError, match="no stage running train_diffusion.py with these arguments"):
        declared_params(parser, parser.parse_args(["ddpm_noise"]), "stages/train_diffusion.py")
    assert declared_params(parser, parser.parse_args(["flow_class"]), "stages/train_diffusion.py")[0] == \
        "train_flow_class"


def test_part_a_is_a_stage_per_experiment_on_each_model():
    """dvc.yaml's parta and parta_flow are a foreach over config/experiments.py's experiments, in its order, each
    naming the section of parta.<model> it reads beside common and its own: a stage per experiment on each part A
    model, each declaring those sections (and nothing of another experiment), its own figure, and (on the model
    parta.model names) its own conditions file, so a changed prompt reruns that experiment alone. The report shows
    every figure."""
    from difflab.config.experiments import PART_A
    from difflab.parta.experiments import EXPERIMENTS

    names = [e.name for e in PART_A]
    assert list(EXPERIMENTS) == names
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for group in ("parta", "parta_flow"):
        declared = raw[group]["foreach"]
        assert list(declared) == names, (
            f"dvc.yaml's {group} foreach lacks {sorted(set(names) - set(declared))}, has "
            f"{sorted(set(declared) - set(names))} beyond config/experiments.py's PART_A, or orders them otherwise")
    section = {"parta": "parta.mnist", "parta_flow": "parta.mnist_flow"}  # parta.model: mnist
    for e in PART_A:
        for group, folder in (("parta", "reports/parta"), ("parta_flow", "reports/parta_flow")):
            stage = STAGES[f"{group}@{e.name}"]
            parta_keys = {k for k in param_keys(stage) if k.startswith("parta.") and k != "parta.model"}
            reads = {"common", e.name, raw[group]["foreach"][e.name]}
            assert parta_keys == {f"{section[group]}.{s}" for s in reads}, f"{group}@{e.name}"
            assert stage["outs"] == [f"{folder}/{e.name}.png"]
            assert covers(folder, stage["outs"][0]) and folder in STAGES["report"]["deps"]
        assert f"data/prompts/{e.name}.safetensors" in STAGES[f"parta@{e.name}"]["deps"]
    assert STAGES["embed_prompts"]["outs"] == ["data/prompts"]


@pytest.mark.parametrize("name, stage", stages(), ids=[n for n, _ in stages()])
def test_stage_deps_cover_the_templates_it_renders(name, stage):
    """A template a stage's code renders (a "*.j2" name in it) is a dep too (itself or its folder): an edited page
    layout reruns the stage."""
    script = ROOT / stage["cmd"].split()[1]
    missing = sorted(str(t) for t in rendered(closure(script)) if not any(covers(d, t) for d in stage["deps"]))
    assert not missing, f"stage {name} renders {missing} but does not list them in deps"


def cached_outs() -> list[Path]:
    """Every output DVC caches, of each stage as DVC resolves it (DVC git-ignores each in its folder's .gitignore)."""
    outs = []
    for stage in STAGES.values():
        for out in stage.get("outs", []):
            path, options = (out, {}) if isinstance(out, str) else next(iter(out.items()))
            if options.get("cache", True):
                outs.append(Path(path))
    return outs


def test_committed_gitignores_are_what_dvc_writes():
    """After a run `git status` shows no .gitignore changed: each cached output's folder holds a committed .gitignore
    that already names it (DVC appends what is missing), and no committed entry names an output that no longer is."""
    expected: dict[Path, set[str]] = {}
    for out in cached_outs():
        expected.setdefault(out.parent, set()).add(f"/{out.name}")
    committed = {p.parent.relative_to(ROOT): set(p.read_text().split())
                 for top in ("data", "models", "reports") for p in (ROOT / top).rglob(".gitignore")}
    assert committed == expected


def test_the_committed_lock_matches_the_committed_files():
    """dvc.lock (committed for the data stage) names each dependency's hash as it is now, a code folder's too (as DVC
    hashes it: .dvcignore leaves out the bytecode): a module edited without the lock following would make every
    fresh clone's first `dvc repro` download MNIST again. Only the deps: the outputs need not be here."""
    from dvc.repo import Repo

    locked = list(yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"])
    assert locked == ["download_mnist"], "dvc.lock is committed for the data stage only"
    with Repo(str(ROOT)) as repo:
        status = repo.status(targets=locked)
    for name, changes in status.items():
        deps = {path: how for change in changes if isinstance(change, dict)
                for path, how in change.get("changed deps", {}).items()}
        assert not deps, f"dvc.lock's {name} has stale deps {deps}: run `dvc commit -f {name}`"


@pytest.mark.parametrize("name, stage", stages(), ids=[n for n, _ in stages()])
def test_a_stage_that_computes_declares_and_sets_its_thread_count(name, stage):
    """A stage whose code runs a UNet computes with torch, and a CPU result depends on the thread count
    (runtime.use_threads): such a stage declares `threads` and its script sets it (for_stage or use_threads), or two
    runs with equal params could differ in their last bits."""
    script = ROOT / stage["cmd"].split()[1]
    if Path("src/difflab/models/unet.py") not in closure(script):
        return
    assert "threads" in param_keys(stage), f"stage {name} computes but does not declare threads"
    text = script.read_text()
    assert "for_stage(" in text or "use_threads(" in text, f"stage {name} declares threads but never sets them"


def test_every_trained_model_is_an_artifact_at_its_final_weights():
    """DVC's model registry (`dvc artifacts get`, `gto show`) lists each model its stage trains, by the model's
    name, at the final weights the stage writes (layout.model_paths), inside an output of that stage: a new model
    without an entry, or a path no stage writes, fails here."""
    from difflab.config import layout

    trained = {out.split("/")[1]: name for name, stage in STAGES.items() if name.startswith("train_")
               for out in stage.get("outs", []) if isinstance(out, str) and out.startswith("models/")}
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    assert set(artifacts) == set(trained) and {"ddpm_class", "flow_class", "judge"} <= set(trained)
    for model, artifact in artifacts.items():
        assert artifact["type"] == "model" and artifact["desc"].strip(), model
        assert artifact["path"] == layout.model_paths(model).final.as_posix(), model
        assert f"models/{model}" in STAGES[trained[model]]["outs"], model


@pytest.mark.parametrize("model", ["mnist", "mnist_flow", "deepfloyd_if"])
def test_each_experiment_declares_every_key_that_holds_its_prompts(model):
    """config/experiments.py names the keys of each experiment's section that hold prompts (what embed_prompts
    declares and embeds into the experiment's file): every prompt of the section is under one of them (a key naming a
    prompt, hybrids' pairs), so no experiment looks up a prompt its file lacks."""
    from difflab.config.experiments import PART_A
    from difflab.config.params import load
    from difflab.parta.conditions import prompts_in

    section = getattr(load(ROOT / "params.yaml").parta, model)
    for e in PART_A:
        named: set[str] = {""}

        def walk(node, key=""):
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, k)
            elif isinstance(node, list):
                for v in node:
                    walk(v, key)
            elif isinstance(node, str) and ("prompt" in key or key == "pairs"):
                named.add(node)
        walk(getattr(section, e.name).model_dump())
        assert set(prompts_in(section, [e])) == named, f"parta.{model}.{e.name}: declare its prompt keys"
