"""Any run's models, read through DVC: the workspace, a git revision (HEAD, a branch, a tag, a commit) or a DVC
experiment's name. Files come through dvc.api from the repository's workspace, git or local DVC cache, so a run
made elsewhere needs `dvc pull` / `dvc exp pull` first; the explorer only reads them (it is no stage of the DAG and
writes no output). A model is loaded once per file content and kept in memory, so two runs can be compared and a
retrained workspace model is picked up on the next request; memory stays bounded, as at most MAX_MODELS generative
models (4) and MAX_JUDGES judges (2) are kept, the least recently used dropped first (and loaded again from its file
when next asked for)."""

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from difflab.config import layout
from difflab.errors import InputError
from difflab.models.checkpoints import load_model
from difflab.models.judge import Judge, load_judge
from difflab.models.unet import UNet
from difflab.reporting.compare_page import known_experiments

WORKSPACE = "workspace"
# the generative models the explorer samples, with how the page names them
MODELS = {"ddpm_class": "class-conditioned DDPM", "flow_class": "class-conditioned flow matching",
          "ddpm_time": "time-conditioned DDPM", "flow_time": "time-conditioned flow matching"}
JUDGE = "judge"
MAX_MODELS = 4  # generative models kept loaded (a D = 128 UNet: 32 MB of fp32 weights)
MAX_JUDGES = 2


class RunError(InputError):
    """A run that is not there, or lacks a file the explorer needs: the message says what to do."""


def rev_of(run: str) -> str | None:
    """dvc.api's rev for a run name: None for the workspace."""
    run = run.strip()
    return None if run in ("", WORKSPACE) else run


def how_to_get(run: str, path: str) -> str:
    """What a user does to have `path` of `run` locally."""
    if rev_of(run) is None:
        return (f"the workspace has no {path}: `dvc checkout` or `dvc pull` if a commit's run has it, or `make run` "
                "(`dvc repro`) to train it here")
    return (f"run {run!r} has no {path} here (never trained in that run, or not in this clone's DVC cache): "
            f"`dvc pull` for a git revision pushed from elsewhere, `dvc exp pull <remote> {run}` for an experiment "
            "run elsewhere, or `make run` (`dvc repro`) to train it here")


class Loaded:
    """At most `size` models loaded from files, by their content's hash: the least recently used is dropped when
    another would make one too many. Not locked: Runs holds its lock around it."""

    def __init__(self, size: int, what: str):
        assert isinstance(size, int) and size >= 1, f"{what}={size!r}; allowed: an integer >= 1 (models kept)"
        self.size = size
        self._kept: OrderedDict[str, object] = OrderedDict()

    def get(self, key: str, load: Callable[[], object]):
        """The model of `key`, the most recently used from now on; load() makes it if it is not kept."""
        if key in self._kept:
            self._kept.move_to_end(key)
        else:
            self._kept[key] = load()
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return self._kept[key]

    def __len__(self) -> int:
        return len(self._kept)


class Runs:
    """The runs of one repository (`repo`, the current folder by default), their params and models; at most
    `max_models` generative models and `max_judges` judges stay loaded (the least recently used dropped first)."""

    def __init__(self, repo: Path | str = ".", device: torch.device | str = "cpu", max_models: int = MAX_MODELS,
                 max_judges: int = MAX_JUDGES):
        self.repo = Path(repo).resolve()
        self.device = torch.device(device)
        self._models = Loaded(max_models, "max_models")
        self._judges = Loaded(max_judges, "max_judges")
        self._lock = threading.Lock()

    def read(self, run: str, path: str) -> bytes:
        """The bytes of `path` (relative to the repository) in `run`; RunError if the run or the file is not here."""
        import dvc.api
        from dvc.exceptions import (CheckoutError, FileMissingError, NotDvcRepoError, OutputNotFoundError,
                                    PathMissingError)
        from dvc.scm import RevError, SCMError

        try:
            with dvc.api.open(path, repo=str(self.repo), rev=rev_of(run), mode="rb") as f:
                return f.read()
        except RevError:
            raise RunError(f"run {run!r} is neither a git revision nor an experiment DVC knows in {self.repo}; "
                           f"allowed: {WORKSPACE}, a git revision (HEAD, a branch, a tag, a commit) or one of the "
                           f"experiments {known_experiments(self.repo)}") from None
        except NotDvcRepoError:
            raise RunError(f"{self.repo} is not a DVC repository; allowed: the difflab repository (or a clone of "
                           "it), started from its root or named with --repo") from None
        except SCMError as e:  # after RevError, one of its kinds: git's own trouble, such as no git repository
            raise RunError(f"{e}; allowed: the difflab repository (or a clone of it), started from its root or named "
                           "with --repo") from None
        except (FileNotFoundError, PathMissingError, FileMissingError, OutputNotFoundError, CheckoutError):
            raise RunError(how_to_get(run, path)) from None

    def params(self, run: str) -> dict:
        """The run's params.yaml (every knob it ran with)."""
        return yaml.safe_load(self.read(run, "params.yaml")) or {}

    def model(self, run: str, name: str) -> tuple[UNet, dict]:
        """The run's final weights of model `name` (one of MODELS) and their metadata, in eval mode."""
        assert name in MODELS, f"model {name!r}: the page's choices are {', '.join(MODELS)}"
        data = self.read(run, layout.model_paths(name).final.as_posix())
        return self._load(data, self._models, lambda path: load_model(path, self.device))

    def judge(self, run: str) -> Judge:
        """The run's judge, the classifier that labels the samples."""
        data = self.read(run, layout.model_paths(JUDGE).final.as_posix())
        return self._load(data, self._judges, lambda path: load_judge(path, self.device))

    def _load(self, data: bytes, cache: Loaded, load):
        """A model file's content loaded once while it is kept (through a temporary file: the loaders take
        paths)."""
        def from_file():
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.safetensors"
                path.write_bytes(data)
                return load(path)

        with self._lock:
            return cache.get(hashlib.sha256(data).hexdigest(), from_file)
