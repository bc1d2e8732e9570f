import pytest
import torch
from PIL import Image

from difflab.parta.images import BUILTINS, InputError, load_image, make_mask


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


@pytest.mark.parametrize("size", [32, 128])  # LANCZOS up to 64, BICUBIC above
@pytest.mark.parametrize("wide", [True, False])
def test_centre_crop_drops_the_borders_that_a_squash_would_keep(tmp_path, size, wide):
    """A 300 x 100 picture: blue band | red square | green band. The centre crop is the red square alone; a squash
    would keep blue and green thirds, and an off-centre crop a band of one colour."""
    img = Image.new("RGB", (300, 100), (0, 0, 255))
    img.paste((255, 0, 0), (100, 0, 200, 100))
    img.paste((0, 255, 0), (200, 0, 300, 100))
    img = img if wide else img.transpose(Image.Transpose.ROTATE_90)  # 100 x 300: green on top, blue below
    img.save(tmp_path / "bands.png")
    x = load_image(str(tmp_path / "bands.png"), size, 3)
    assert x.shape == (1, 3, size, size)
    red = torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1).expand(1, 3, size, size)
    torch.testing.assert_close(x, red, atol=2 / 255, rtol=0)
    # grey too: one level everywhere (red's luminance, 76/255), where a squash would give three
    grey = load_image(str(tmp_path / "bands.png"), size, 1)
    torch.testing.assert_close(grey, torch.full((1, 1, size, size), 76 / 255), atol=2 / 255, rtol=0)


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


@pytest.mark.parametrize("w, h", [(40, 30), (31, 50), (64, 64)])
def test_image_arithmetic_is_torchvisions_to_the_bit(w, h):
    """to_tensor, to_pil_image and center_crop written out on PIL and numpy (a stage need not import torchvision)
    give torchvision's bits: an RGB and a grey picture, an odd border, a float digit truncated to 8 bits."""
    import numpy as np
    import torchvision.transforms.functional as TF

    from difflab.parta import images

    rgb = Image.fromarray(np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8))
    for img in (rgb, rgb.convert("L")):
        assert torch.equal(images._to_tensor(img), TF.to_tensor(img))
        side = min(img.size)
        assert images._center_square(img).tobytes() == TF.center_crop(img, [side, side]).tobytes()
    digit = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(h))
    assert images._to_pil(digit).tobytes() == TF.to_pil_image(digit).tobytes()
    assert images._to_pil(digit).mode == TF.to_pil_image(digit).mode == "L"
