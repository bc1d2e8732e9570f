"""The one way into part A's algorithms: an Engine holds a model, its process (how it noises, estimates and steps:
core/processes.py), its prompt conditions, the CFG scale and the seed, and builds every predictor and runs every
algorithm of algorithms.py from them. The experiments (figures), the evaluation (judged rates) and the explorer's
tabs all go through it, so one seed gives one image wherever it is made.

Every run starts alike: a generator seeded by `seed` draws the starting noise (or the forward process's noise),
then every step's noise.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from difflab.core.predictor import Predictor, conditional, guided
from difflab.core.processes import OnStep, Process
from difflab.core.views import Transform, View
from difflab.parta import algorithms as alg
from difflab.parta.model import DiffusionModel


def process_of(model: DiffusionModel, common) -> Process:
    """The process as parta.<model>.common sets it (core/objectives.py): a DDPM's stride, sampler (ddpm | ddim),
    ddim_eta and variance; a flow's Euler step."""
    ddim = getattr(common, "sampler", "ddpm") == "ddim"  # a flow's section has its step alone, a DDPM's no step
    return model.objective.process(getattr(common, "stride", 1), common.ddim_eta if ddim else None,
                                   getattr(common, "variance", "fixed_small"), getattr(common, "step", 0.02))


@dataclass
class Engine:
    model: DiffusionModel
    process: Process
    conds: Callable[..., torch.Tensor]  # prompts -> their conditions stacked into one batch
    scale: float  # CFG gamma of every guided predictor
    seed: int
    grid: list = field(default=None)  # the process's own grid unless given

    def __post_init__(self):
        # the schema's Scale and seed, checked where the user gave them (params.yaml, the explorer's fields)
        assert 0 <= self.scale < math.inf and self.seed >= 0, (self.scale, self.seed)
        self.grid = self.process.grid() if self.grid is None else self.grid

    @property
    def device(self) -> torch.device:
        return self.model.device

    # ---- randomness ---------------------------------------------------------------------------------------
    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed)

    def noise(self, n: int, g: torch.Generator) -> torch.Tensor:
        """n images of pure noise at the model's size."""
        m = self.model
        return torch.randn((n, m.channels, m.image_size, m.image_size), generator=g, device=self.device)

    # ---- predictors ---------------------------------------------------------------------------------------
    def null(self, n: int = 1) -> torch.Tensor:
        return self.conds(*[self.model.null_prompt] * n)

    def conditional(self, *prompts: str) -> Predictor:
        """The model's estimate for the prompts (image i with prompt i, or one prompt for all), no guidance."""
        return conditional(self.model, self.conds(*prompts))

    def guided(self, *prompts: str) -> Predictor:
        return guided(self.model, self.conds(*prompts), self.null(len(prompts)), self.scale)

    def anagram(self, prompts: Sequence[str], views: Sequence[View]) -> Predictor:
        return alg.anagram(self.model, [self.conds(p) for p in prompts], self.null(), self.scale, views)

    def factorized(self, prompts: Sequence[Sequence[str]], components: Sequence[Transform]) -> Predictor:
        """Component k follows prompts[k]: one prompt, or one per image of the batch."""
        n = max(len(p) for p in prompts)
        return alg.factorized(self.model, [self.conds(*p) for p in prompts], self.null(n), self.scale, components)

    # ---- algorithms ---------------------------------------------------------------------------------------
    def walk(self, start) -> tuple[list, int]:
        """The grid a run from a start knob walks and where on it it begins (a flow's t_start may lie off the grid:
        Process.walk); InputError naming it."""
        return self.process.walk(start, self.grid)

    def noised(self, x0: torch.Tensor, t, g: torch.Generator) -> torch.Tensor:
        return alg.forward(self.process, x0, t, g)

    def one_step(self, x_t: torch.Tensor, t, predictor: Predictor) -> torch.Tensor:
        return alg.one_step_denoise(self.process, x_t, t, predictor)

    def update(self, x_t: torch.Tensor, t, predictor: Predictor) -> torch.Tensor:
        return alg.predicted_update(self.process, x_t, t, predictor)

    def denoise(self, x_t: torch.Tensor, i_start: int, predictor: Predictor, g: torch.Generator,
                on_step: OnStep | None = None, progress: str | None = None, grid: list | None = None) -> torch.Tensor:
        return alg.iterative_denoise(self.process, x_t, self.grid if grid is None else grid, i_start, predictor, g,
                                     on_step, progress)

    def sample(self, predictor: Predictor, n: int, on_step: OnStep | None = None, progress: str | None = None,
               grid: list | None = None) -> torch.Tensor:
        """n images from the seeded noise, down the whole grid."""
        g = self.generator()
        return self.denoise(self.noise(n, g), 0, predictor, g, on_step, progress, grid)

    def sdedit(self, x0: torch.Tensor, i_start: int, predictor: Predictor, g: torch.Generator | None = None,
               progress: str | None = None, grid: list | None = None) -> torch.Tensor:
        return alg.sdedit(self.process, x0, self.grid if grid is None else grid, i_start, predictor,
                          g or self.generator(), progress)

    def inpaint(self, x0: torch.Tensor, mask: torch.Tensor, predictor: Predictor, g: torch.Generator | None = None,
                progress: str | None = None,
                observe: Callable[[float, torch.Tensor], None] | None = None) -> torch.Tensor:
        return alg.inpaint(self.process, x0, mask, self.grid, predictor, g or self.generator(), progress, observe)
