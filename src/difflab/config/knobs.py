"""The knob types params.yaml's sections are made of (schema.py): finite numbers within bounds, non-empty lists, one
of a list of names, odd sizes, fractions, CFG scales, checksums, image boxes; each with the words its error says
("allowed: an odd integer")."""

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field


def _odd(v: int) -> int:
    if v % 2 != 1:
        raise ValueError("an odd integer")
    return v


def distinct(v: list) -> list:
    if len(set(v)) != len(v):
        raise ValueError("different values")
    return v


def widest_first(v: list) -> list:
    if v[0] <= v[1]:
        raise ValueError("the first larger (the widest blur first)")
    return v


def whole_steps(step: float) -> float:
    if not math.isclose(1 / step, round(1 / step), abs_tol=1e-9):
        raise ValueError("1 / n for a whole number n of Euler steps (0.02 = 50 steps)")
    return step


def _box(m: list) -> list:
    if not (m[0] < m[1] and m[2] < m[3]):
        raise ValueError("[top, bottom, left, right] fractions with top < bottom and left < right")
    return m


def Num(**bounds) -> type[float]:  # noqa: N802 (a type)
    """A finite number within `bounds` (ge, gt, le, lt); an int is taken as a float."""
    return Annotated[float, Field(allow_inf_nan=False, **bounds)]


def NonEmpty(item) -> type[list]:  # noqa: N802 (a type)
    return Annotated[list[item], Field(min_length=1)]


def OneOf(names: tuple[str, ...]):  # noqa: N802 (a type)
    return Literal[names]


Int = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]
Odd = Annotated[int, Field(ge=1), AfterValidator(_odd)]
Fraction = Num(ge=0, le=1)
Scale = Num(ge=0)  # a classifier-free guidance scale
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Box = Annotated[list[Fraction], Field(min_length=4, max_length=4), AfterValidator(_box)]
