"""The one base class of the project's input errors, in a module that imports nothing of the project, so every
layer can use it; and the one way a stage reports them.

An InputError says that something the user gave (a params value, a prompt, an image, a view, a checkpoint of the
wrong kind) cannot be used; its message names the value and what is allowed. The stages print it on one line and
exit with status 2, as for a bad command line. Any other exception, a plain ValueError included, is a bug of the
code or of a library and keeps its traceback.

A DamagedFile is the InputError of a file the project reads that it (or DVC) wrote: model weights, the judge, the
cached prompt conditions, a metric file, the dataset. Truncated, overwritten or not what it claims to be, it is
named in one line with what is wrong and the command that restores it (`reading`, `damaged`).
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(ValueError):
    """Input that cannot be used: the message names the bad value and what is allowed."""


class ParamError(InputError):
    """A params.yaml value that is not allowed (or a key that is unknown)."""


class PromptError(InputError):
    """A prompt the model cannot be conditioned on."""


@contextmanager
def exit_on_input_error(prefix: str) -> Iterator[None]:
    """Around a stage's work: an InputError ends the stage with one line, "<prefix>: <message>", on stderr and exit
    status 2, as a bad command-line argument does; every other exception propagates with its traceback."""
    try:
        yield
    except InputError as e:
        print(f"{prefix}: {e}", file=sys.stderr)
        sys.exit(2)


class DamagedFile(InputError):
    """A file the project made (or DVC checked out) that cannot be read as what it claims to be."""


def maker(path: str | Path, lock: Path = Path("dvc.lock")) -> str | None:
    """The stage of `lock` whose outputs hold `path` (a file or a folder above it), None where none does."""
    import yaml

    try:
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    target = Path(path).as_posix()
    for name, stage in stages.items():
        for out in stage.get("outs", []) if isinstance(stage, dict) else []:
            made = str(out.get("path", "")).rstrip("/")
            if made and (target == made or target.startswith(made + "/")):
                return name
    return None


def damaged(path: str | Path, what: str, reason: BaseException | str, stage: str | None = None,
            cached: bool = True, restore: str | None = None) -> DamagedFile:
    """The one-line error of a damaged file: its path, what it should be and what is wrong with it, and how to get it
    back (`restore`, by default: `dvc checkout --force <path>` where DVC caches it (`cached`), else, or where the
    cache lacks it, rerunning `stage`, the stage that makes it: by default the one dvc.lock names)."""
    why = reason if isinstance(reason, str) else f"{type(reason).__name__}: {' '.join(str(reason).split())}"
    if restore is None:
        stage = stage or maker(path)
        rerun = f"dvc repro {stage}" if stage else "dvc repro (it reruns the stage that makes it)"
        restore = f"dvc checkout --force {path}, or where DVC's cache lacks it {rerun}" if cached else rerun
    return DamagedFile(f"{path}: not a readable {what} ({why[:200]}); restore it: {restore}")


@contextmanager
def reading(path: str | Path, what: str, errors: tuple[type[BaseException], ...], stage: str | None = None,
            cached: bool = True, restore: str | None = None) -> Iterator[None]:
    """Around the reading of one file: any of `errors` becomes the file's DamagedFile (damaged())."""
    try:
        yield
    except errors as e:
        raise damaged(path, what, e, stage, cached, restore) from None


def read_json(path: str | Path, what: str = "metric file", stage: str | None = None,
              restore: str | None = None, text: str | None = None) -> dict:
    """A JSON object from a file a stage wrote (a metric file: git-tracked, not in DVC's cache, so rerunning its
    stage restores it), or from its `text` where it was read elsewhere (another run's, through DVC: `path` names
    it); DamagedFile where it is not one."""
    with reading(path, what, (json.JSONDecodeError, UnicodeDecodeError), stage, False, restore):
        data = json.loads(Path(path).read_text() if text is None else text)
    if not isinstance(data, dict):
        raise damaged(path, what, f"a JSON {type(data).__name__}, not an object", stage, False, restore)
    return data
