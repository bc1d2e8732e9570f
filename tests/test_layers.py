"""The package's layers: every module imports only from its own folder or the folders below it, so a reader can
learn the code bottom up and a change to a top layer (a figure, an experiment) never reaches the maths."""

import ast
from pathlib import Path

import pytest
from helpers import ROOT

PACKAGE = ROOT / "src" / "difflab"
# bottom to top (docs/architecture.md draws the same order)
LAYERS = [("errors", "progress", "png", "intervals"), ("core",), ("data",), ("models",), ("config",), ("reporting",), ("training",),
          ("sampling",), ("parta",), ("evaluation",), ("workflow",), ("explore",)]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str:
    """difflab.core.ddpm -> core; difflab.errors -> errors."""
    return module.split(".")[1]


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import; the package imports absolutely (from difflab...)"
            if node.module and node.module.startswith("difflab."):
                found.append(node.module)
            elif node.module == "difflab":
                found += [f"difflab.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("difflab.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem not in ("__init__",))


def test_every_folder_has_a_layer_and_says_what_it_holds():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert folders | modules == set(RANK)
    for folder in folders:
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) == 1, f"{folder}/__init__.py needs a one-line docstring"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_point_down_the_layers(path):
    here = layer_of("difflab." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    upward = [m for m in imports(path) if RANK[layer_of(m)] > RANK[here]]
    assert not upward, f"{path.relative_to(PACKAGE)} ({here}) imports from a higher layer: {upward}"
