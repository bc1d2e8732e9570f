"""Part A's experiments, declared once: each one's name (its function in parta/experiments.py, its figure
reports/<stage>/<name>.png, its section parta.<model>.<name>), the other section of parta.<model> it reads, and the
keys of its own section that hold prompts. What each experiment's stage declares is built from this table: dvc.yaml's
parta and parta_flow are a foreach over the same experiments (tests/test_dvc_yaml.py holds the two equal, naming a
missing entry), stages/parta.py asks for those keys, stages/embed_prompts.py embeds those prompts into one
conditions file per experiment. How the report heads and captions each is reporting/parta_captions.py's.
docs/architecture.md walks through adding one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str  # its function in parta/experiments.py, figure reports/parta/<name>.png, section parta.<model>.<name>
    also: str | None = None  # another section of parta.<model> it reads, beside common and its own
    prompts: tuple[str, ...] = ()  # the keys of its own section that hold prompts (the conditions it looks up)

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections of parta.<model> it reads: common, its own, and `also`."""
        return ("common", self.name, *((self.also,) if self.also else ()))

    @property
    def reads(self) -> str:
        """dvc.yaml's foreach item of its stage: the section it reads beside common and its own (its own where
        there is none, so that the stage's params stay one template)."""
        return self.also or self.name

    def figure(self, folder: str = "parta") -> str:
        """Its figure relative to reports/: parta/<name>.png (the flow model's: parta_flow/<name>.png)."""
        return f"{folder}/{self.name}.png"


# In the spec's order (SPEC A0 - A1.9, then what goes beyond it).
PART_A = (
    Experiment("sample", prompts=("prompts",)),
    Experiment("forward"),
    Experiment("blur", also="forward"),
    Experiment("one_step", also="forward", prompts=("prompt",)),
    Experiment("velocity", also="forward", prompts=("prompt",)),
    Experiment("iterative", also="blur", prompts=("prompt",)),
    Experiment("sample_noise", prompts=("prompts",)),
    Experiment("cfg", prompts=("prompts",)),
    Experiment("sdedit", prompts=("prompt",)),
    Experiment("sdedit_drawings", also="sdedit", prompts=("prompt",)),
    Experiment("inpaint", prompts=("prompt",)),
    Experiment("translate", also="sdedit", prompts=("prompt",)),
    Experiment("anagram", prompts=("anagrams",)),
    Experiment("hybrid", prompts=("pairs",)),
    Experiment("factorized", prompts=("items",)),
)
BY_NAME = {e.name: e for e in PART_A}
