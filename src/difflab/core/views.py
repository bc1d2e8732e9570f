"""Views for visual anagrams (A1.8 and Geng et al., "Visual Anagrams", CVPR 2024): orthogonal pixel transforms,
each a permutation of the pixels times a sign, with its inverse. An anagram looks like prompt k through view k.

- identity, flip (upside down, the course's), rot90 / rot180 / rot270 (counter-clockwise), transpose;
- jigsaw: the image cut into 4 x 4 square pieces, piece i of the view taken from piece (7 i + 3) mod 16 of the image
  (a fixed permutation that moves every piece);
- negate: x -> -x, only where the model's value range is symmetric about zero (DeepFloyd IF's [-1, 1]; on the
  MNIST model's [0, 1] it is not orthogonal, 1 - x being affine, so it is refused).

A view acts on model-space tensors (N, C, H, W) of any square size its pieces fit (jigsaw: sides divisible by 4), so
the same view serves a 64 x 64 sample and its 256 x 256 upsampled display.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from difflab.errors import InputError

Transform = Callable[[torch.Tensor], torch.Tensor]
JIGSAW_GRID = 4
_PIECES = JIGSAW_GRID * JIGSAW_GRID
JIGSAW_PERMUTATION = tuple((7 * i + 3) % _PIECES for i in range(_PIECES))


@dataclass(frozen=True)
class View:
    """view(x) = sign * permute(x); inverse(y) = sign * unpermute(y). `unpermute` alone moves a per-pixel map that
    has no sign (a predicted variance) back to the image's frame."""
    name: str
    permute: Transform
    unpermute: Transform
    sign: float = 1.0
    grid: int = 1  # the sides must be divisible by it (jigsaw pieces)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.sign * self.permute(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.sign * self.unpermute(y)

    def inverted(self) -> "View":
        return View(f"{self.name}^-1", self.unpermute, self.permute, self.sign, self.grid)


def _pieces(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    p = h // JIGSAW_GRID
    return x.reshape(n, c, JIGSAW_GRID, p, JIGSAW_GRID, p).permute(0, 1, 2, 4, 3, 5).reshape(n, c, _PIECES, p, p)


def _unpieces(pieces: torch.Tensor) -> torch.Tensor:
    n, c, _, p, _ = pieces.shape
    g = JIGSAW_GRID
    return pieces.reshape(n, c, g, g, p, p).permute(0, 1, 2, 4, 3, 5).reshape(n, c, g * p, g * p)


def _jigsaw(order: Sequence[int]) -> Transform:
    index = torch.tensor(order)
    return lambda x: _unpieces(_pieces(x)[:, :, index.to(x.device)])


_INVERSE_PERMUTATION = tuple(sorted(range(_PIECES), key=JIGSAW_PERMUTATION.__getitem__))


def _rot(k: int) -> Transform:
    return lambda x: torch.rot90(x, k, dims=(-2, -1))


def _flip(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=[-2])


def _transpose(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(-2, -1)


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


VIEWS = {v.name: v for v in (
    View("identity", _same, _same),
    View("flip", _flip, _flip),
    View("rot90", _rot(1), _rot(-1)),
    View("rot180", _rot(2), _rot(-2)),
    View("rot270", _rot(-1), _rot(1)),
    View("transpose", _transpose, _transpose),
    View("negate", _same, _same, sign=-1.0),
    View("jigsaw", _jigsaw(JIGSAW_PERMUTATION), _jigsaw(_INVERSE_PERMUTATION), grid=JIGSAW_GRID),
)}


class ViewError(InputError):
    """A view that does not exist, does not fit the images, or does not suit the model's value range."""


def views_for(names: Sequence[str], model) -> list[View]:
    """The views named, checked against the model (its image size and value range) before any work."""
    unknown = [n for n in names if n not in VIEWS]
    if unknown:
        raise ViewError(f"views {unknown}: unknown; allowed: {', '.join(VIEWS)}")
    if len(set(names)) != len(names) or not 2 <= len(names) <= 3:
        raise ViewError(f"views {list(names)}: an anagram takes 2 or 3 different views")
    size = model.image_size
    for name in names:
        grid = VIEWS[name].grid
        if size % grid:
            raise ViewError(f"view {name!r} cuts the image into {grid} x {grid} pieces: {size} x {size} images do "
                            f"not divide; allowed: sides divisible by {grid}")
    if "negate" in names:
        zero, one = (model.to_model(torch.tensor([v], device=model.device)).item() for v in (0.0, 1.0))
        if zero != -one:
            raise ViewError(f"view 'negate' needs a value range symmetric about zero; the {model.name} model's "
                            f"images range over [{zero:g}, {one:g}] (allowed there: every view but negate)")
    return [VIEWS[n] for n in names]
