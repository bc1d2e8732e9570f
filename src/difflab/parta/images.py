"""Inputs of the part A experiments: a user's image file, a bundled photo, an MNIST test digit, or a drawing made
in code (the project's own "web-style" clip-art and hand-drawn-style sketches), plus inpainting masks.

An input is named by a reference string:
    path/to/file.png             any image file PIL reads
    matplotlib:grace_hopper.jpg  a file of matplotlib's sample data (the default test photo)
    mnist-test:0                 digit 0 of the MNIST test split (needs data/dataset)
    builtin:NAME                 a drawing made in code: one of BUILTINS
Every image is centre-cropped to a square and resized to the model's size; single-channel models get grey
images with light strokes on a dark ground (MNIST's convention), inverted where the picture's ground is light.
"""

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from difflab.errors import InputError


class ImageError(InputError):
    """An input image or mask that cannot be used."""


# torchvision's to_tensor, to_pil_image and center_crop, written out on PIL and numpy with the same arithmetic (so the
# same bits; tests/test_images.py compares them): importing torchvision costs each part A stage about 1.8 s.
def _to_tensor(img: Image.Image) -> torch.Tensor:
    """An L or RGB image as a (C, H, W) float tensor in [0, 1]."""
    a = np.array(img, np.uint8, copy=True)
    a = a[:, :, None] if a.ndim == 2 else a
    return torch.from_numpy(a).permute(2, 0, 1).contiguous().float().div(255)


def _to_pil(x: torch.Tensor) -> Image.Image:
    """A (1, H, W) float tensor in [0, 1] as an L image (truncated to 8 bits, as torchvision does)."""
    return Image.fromarray((x[0].numpy(force=True) * 255).astype(np.uint8))


def _center_square(img: Image.Image) -> Image.Image:
    """The largest centred square of the image."""
    w, h = img.size
    side = min(w, h)
    top, left = int(round((h - side) / 2.0)), int(round((w - side) / 2.0))
    return img.crop((left, top, left + side, top + side))


def _canvas(ground=(255, 255, 255)) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (256, 256), ground)
    return img, ImageDraw.Draw(img)


def _wobbly(points, rng: np.random.Generator, jitter: float = 3.0, steps: int = 12) -> list[tuple[float, float]]:
    """A polyline resampled with small random offsets: how a hand draws a straight stroke."""
    out = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for k in range(steps):
            f = k / steps
            out.append((x0 + f * (x1 - x0) + rng.normal(0, jitter), y0 + f * (y1 - y0) + rng.normal(0, jitter)))
    out.append(points[-1])
    return out


def _arc(cx, cy, r, a0, a1, n=24):
    return [(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


def draw_clipart() -> Image.Image:
    """Web-style clip-art: flat colours, hard edges: a house on a hill under the sun."""
    img, d = _canvas((135, 200, 250))
    d.ellipse([-60, 170, 320, 400], fill=(90, 170, 80))
    d.ellipse([180, 25, 235, 80], fill=(255, 215, 0))
    d.rectangle([70, 120, 170, 200], fill=(200, 60, 50))
    d.polygon([(60, 122), (120, 70), (180, 122)], fill=(120, 60, 40))
    d.rectangle([108, 155, 132, 200], fill=(80, 50, 30))
    d.rectangle([82, 135, 100, 152], fill=(240, 240, 200))
    return img


def draw_sketch_face(seed: int = 0) -> Image.Image:
    """A hand-drawn-style sketch: a smiling face in wobbly black pencil lines on white."""
    rng = np.random.default_rng(seed)
    img, d = _canvas()
    for stroke in (_arc(128, 128, 90, 0, 360, 40), _arc(128, 140, 45, 20, 160), _arc(95, 105, 10, 0, 360, 12),
                   _arc(161, 105, 10, 0, 360, 12), [(128, 115), (120, 145), (132, 147)]):
        d.line(_wobbly(stroke, rng, 1.5, 3), fill=(20, 20, 20), width=5, joint="curve")
    return img


def draw_sketch_tree(seed: int = 1) -> Image.Image:
    """A hand-drawn-style sketch: a tree (trunk and a scribbled crown) on a ground line."""
    rng = np.random.default_rng(seed)
    img, d = _canvas()
    d.line(_wobbly([(20, 220), (236, 215)], rng), fill=(30, 30, 30), width=4)
    d.line(_wobbly([(115, 218), (118, 140)], rng), fill=(90, 60, 30), width=6)
    d.line(_wobbly([(140, 218), (137, 140)], rng), fill=(90, 60, 30), width=6)
    for cx, cy, r in ((128, 100, 55), (90, 120, 35), (166, 120, 35)):
        d.line(_wobbly(_arc(cx, cy, r, 0, 360, 30), rng, 2, 3), fill=(30, 120, 40), width=5)
    return img


_DIGIT_STROKES = {  # on a 256 canvas, as a hand would draw them with a thick pen
    "3": [_arc(128, 85, 45, 200, 440), _arc(128, 170, 50, 280, 520)],
    "7": [[(70, 60), (190, 60), (110, 210)]],
    "2": [_arc(125, 95, 48, 190, 390) + [(80, 205), (185, 205)]],
}


def draw_sketch_digit(digit: str, seed: int = 0) -> Image.Image:
    """A hand-drawn-style digit: white strokes on black, like MNIST's."""
    rng = np.random.default_rng(seed)
    img, d = _canvas((0, 0, 0))
    for stroke in _DIGIT_STROKES[digit]:
        d.line(_wobbly(stroke, rng, 2.5, 4), fill=(255, 255, 255), width=26, joint="curve")
    return img


BUILTINS = {"clipart": draw_clipart, "sketch_face": draw_sketch_face, "sketch_tree": draw_sketch_tree,
            **{f"sketch_digit_{k}": (lambda k=k: draw_sketch_digit(k)) for k in _DIGIT_STROKES}}


def reads_dataset(section) -> bool:
    """Whether a part A params section names an image of the dataset's test split ("mnist-test:<index>"): the stage
    then checks the dataset against its sha256 before it runs (data/mnist.py check_dataset)."""
    def walk(node) -> bool:
        if isinstance(node, dict):
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return isinstance(node, str) and node.startswith("mnist-test:")
    return walk(section.model_dump())


def _open(ref: str, mnist_dir: Path) -> Image.Image:
    scheme, _, name = ref.partition(":")
    if scheme == "builtin":
        if name not in BUILTINS:
            raise ImageError(f"image {ref!r}: no such drawing; allowed: {', '.join('builtin:' + b for b in BUILTINS)}")
        return BUILTINS[name]()
    if scheme == "mnist-test":
        from difflab.data.mnist import load_mnist
        images, _ = load_mnist(mnist_dir, "test")
        if not name.isdigit() or int(name) >= len(images):
            raise ImageError(f"image {ref!r}: allowed: mnist-test:0 .. mnist-test:{len(images) - 1}")
        return _to_pil(images[int(name)])
    if scheme == "matplotlib":
        import matplotlib
        ref = str(Path(matplotlib.get_data_path()) / "sample_data" / name)
    path = Path(ref)
    if not path.is_file():
        raise ImageError(f"image {ref!r}: file not found")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError as e:  # not an image, or truncated (PIL's UnidentifiedImageError is an OSError)
        raise ImageError(f"image {ref!r}: {path} is not a readable image ({e}); replace the file, or name another "
                         f"image in params.yaml") from None


def load_image(ref: str, size: int, channels: int, mnist_dir: Path = Path("data/dataset")) -> torch.Tensor:
    """The referenced image as a (1, channels, size, size) tensor in [0, 1]."""
    img = _center_square(_open(ref, Path(mnist_dir))).resize(
        (size, size), Image.Resampling.BICUBIC if size > 64 else Image.Resampling.LANCZOS)
    if channels == 1:
        x = _to_tensor(img.convert("L"))
        if x.mean() > 0.5:  # a light ground (a sketch on paper): MNIST digits are light on dark
            x = 1 - x
        return x.unsqueeze(0)
    if channels == 3:
        return _to_tensor(img.convert("RGB")).unsqueeze(0)
    raise ImageError(f"channels={channels}; allowed: 1 or 3")


def make_mask(spec, size: int) -> torch.Tensor:
    """A (1, 1, size, size) mask, 1 where new content goes: a box [top, bottom, left, right] in fractions of the
    side (e.g. [0, 0.4, 0, 1] = the top 40 %), or the path of a black/white image of exactly size x size."""
    if isinstance(spec, str):
        path = Path(spec)
        if not path.is_file():
            raise ImageError(f"mask {spec!r}: file not found")
        try:
            with Image.open(path) as img:
                if img.size != (size, size):
                    raise ImageError(f"mask {spec!r} is {img.size[0]}x{img.size[1]}; allowed: {size}x{size}, "
                                     "the model's size")
                m = (_to_tensor(img.convert("L")) > 0.5).float().unsqueeze(0)
        except OSError as e:
            raise ImageError(f"mask {spec!r}: not a readable image ({e}); replace the file, or name another mask "
                             f"in params.yaml") from None
    else:
        if not (isinstance(spec, (list, tuple)) and len(spec) == 4 and all(0 <= v <= 1 for v in spec)
                and spec[0] < spec[1] and spec[2] < spec[3]):
            raise ImageError(f"mask {spec!r}; allowed: [top, bottom, left, right] fractions with top < bottom, "
                             "left < right, or an image path")
        top, bottom, left, right = (round(v * size) for v in spec)
        m = torch.zeros(1, 1, size, size)
        m[..., top:bottom, left:right] = 1
    if m.sum() == 0:
        raise ImageError(f"mask {spec!r} is empty at {size}x{size}: nothing to inpaint")
    if m.sum() == m.numel():
        raise ImageError(f"mask {spec!r} covers the whole image: nothing of the original would be kept")
    return m
