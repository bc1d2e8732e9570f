"""Part A's registry: the models it runs on and its experiments.

The models (PART_A_MODELS): each one's section of params.yaml, the objective its checkpoint holds, its stages and
their folders, and how figures name it, written once for the stages, the evaluation, the report and the explorer.
The experiments (PART_A), in the spec's order: each one's name (its function in parta/experiments.py, its figure
reports/<stage>/<name>.png, its section parta.<model>.<name>) and the keys of its own section that hold prompts
(stages/embed_prompts.py embeds them into one conditions file per experiment). What each experiment's stage reads is
dvc.yaml's to say (parta and parta_flow, a foreach over the same names: tests/test_dvc_yaml.py names a missing one).
How the report heads and captions each is reporting/parta_captions.py's. docs/architecture.md walks through adding
one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str  # its function in parta/experiments.py, figure reports/parta/<name>.png, section parta.<model>.<name>
    prompts: tuple[str, ...] = ()  # the keys of its own section that hold prompts (the conditions it looks up)


# In the spec's order (SPEC A0 - A1.9, then what goes beyond it).
PART_A = (
    Experiment("sample", prompts=("prompts",)),
    Experiment("forward"),
    Experiment("blur"),
    Experiment("one_step", prompts=("prompt",)),
    Experiment("velocity", prompts=("prompt",)),
    Experiment("iterative", prompts=("prompt",)),
    Experiment("sample_noise", prompts=("prompts",)),
    Experiment("cfg", prompts=("prompts",)),
    Experiment("sdedit", prompts=("prompt",)),
    Experiment("sdedit_drawings", prompts=("prompt",)),
    Experiment("inpaint", prompts=("prompt",)),
    Experiment("translate", prompts=("prompt",)),
    Experiment("anagram", prompts=("anagrams",)),
    Experiment("hybrid", prompts=("pairs",)),
    Experiment("factorized", prompts=("items",)),
)
BY_NAME = {e.name: e for e in PART_A}


@dataclass(frozen=True)
class PartAModel:
    section: str  # parta.<section> in params.yaml
    objective: str | None  # core/objectives' name of what its checkpoint was trained on (None: not one of ours)
    stage: str  # its stages <stage>@<experiment>, writing reports/<stage>/<experiment>.png
    evaluation: str | None  # its judged stage, writing reports/<evaluation>/ (metric_files.FILES: its metrics' model)
    label: str  # how figures name it

    @property
    def metrics(self) -> str:
        """Its evaluation's metrics file, relative to reports/."""
        return f"{self.evaluation}/metrics.json"


PART_A_MODELS = {m.section: m for m in (
    PartAModel("mnist", "ddpm", "parta", "eval_parta", "MNIST model"),
    PartAModel("mnist_flow", "flow", "parta_flow", "eval_parta_flow", "MNIST flow model"),
    PartAModel("deepfloyd_if", None, "parta", None, "DeepFloyd IF"),
)}
JUDGED = tuple(m for m in PART_A_MODELS.values() if m.evaluation)  # the part A models eval_parta* judge
