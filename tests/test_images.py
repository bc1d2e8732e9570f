import pytest
import torch
from PIL import Image

from difflab.diffusion.images import BUILTINS, InputError, load_image, make_mask


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_drawings_load_at_any_size(name):
    rgb = load_image(f"builtin:{name}", 64, 3)
    grey = load_image(f"builtin:{name}", 28, 1)
    assert rgb.shape == (1, 3, 64, 64) and grey.shape == (1, 1, 28, 28)
    assert 0 <= rgb.min() and rgb.max() <= 1 and rgb.std() > 0.05
    assert grey.mean() < 0.5  # single-channel inputs follow MNIST: light strokes on a dark ground


def test_photo_is_centre_cropped_and_resized(tmp_path):
    img = Image.new("RGB", (300, 100), (0, 0, 0))
    img.paste((255, 0, 0), (100, 0, 200, 100))  # the centre square is red, the sides black
    img.save(tmp_path / "wide.png")
    x = load_image(str(tmp_path / "wide.png"), 32, 3)
    assert x.shape == (1, 3, 32, 32)
    torch.testing.assert_close(x[0, :, 16, 16], torch.tensor([1.0, 0.0, 0.0]))
    assert load_image("matplotlib:grace_hopper.jpg", 64, 3).shape == (1, 3, 64, 64)


def test_bad_images_are_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png.*not a readable image"):
        load_image(str(tmp_path / "broken.png"), 28, 1)
    with pytest.raises(InputError, match="file not found"):
        load_image(str(tmp_path / "missing.jpg"), 28, 1)
    with pytest.raises(InputError, match="no such drawing; allowed: builtin:clipart"):
        load_image("builtin:unicorn", 28, 1)


def test_masks():
    m = make_mask([0.0, 0.5, 0.0, 1.0], 8)
    assert m.shape == (1, 1, 8, 8) and m[..., :4, :].eq(1).all() and m[..., 4:, :].eq(0).all()
    with pytest.raises(InputError, match="empty"):
        make_mask([0.0, 0.01, 0.0, 1.0], 28)
    with pytest.raises(InputError, match="whole image"):
        make_mask([0.0, 1.0, 0.0, 1.0], 28)
    with pytest.raises(InputError, match="top < bottom"):
        make_mask([0.5, 0.2, 0.0, 1.0], 28)


def test_mask_files_must_match_the_model_size(tmp_path):
    Image.new("L", (32, 32), 0).save(tmp_path / "m32.png")
    with pytest.raises(InputError, match="is 32x32; allowed: 28x28"):
        make_mask(str(tmp_path / "m32.png"), 28)
    img = Image.new("L", (28, 28), 0)
    img.paste(255, (0, 0, 28, 10))
    img.save(tmp_path / "m28.png")
    assert make_mask(str(tmp_path / "m28.png"), 28).sum() == 28 * 10
