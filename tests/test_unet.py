import pytest
import torch

from difflab.models.unet import UNet, conv_block, down_block, fc_block, flatten, unflatten, up_block


@pytest.mark.parametrize("block, shape_in, shape_out", [
    (lambda: conv_block(1, 8), (2, 1, 28, 28), (2, 8, 28, 28)),
    (lambda: down_block(8, 16), (2, 8, 28, 28), (2, 16, 14, 14)),
    (lambda: down_block(8, 16), (2, 8, 14, 14), (2, 16, 7, 7)),
    (lambda: up_block(32, 8), (2, 32, 7, 7), (2, 8, 14, 14)),
    (lambda: up_block(16, 8), (2, 16, 14, 14), (2, 8, 28, 28)),
    (lambda: flatten(), (2, 16, 7, 7), (2, 16, 1, 1)),
    (lambda: unflatten(16), (2, 16, 1, 1), (2, 16, 7, 7)),
    (lambda: fc_block(10, 16), (2, 10), (2, 16)),
])
def test_block_shapes(block, shape_in, shape_out):
    assert block()(torch.randn(shape_in)).shape == shape_out


def test_flatten_is_average_then_gelu():
    x = torch.randn(1, 3, 7, 7)
    torch.testing.assert_close(flatten()(x), torch.nn.functional.gelu(x.mean(dim=(2, 3), keepdim=True)))


@pytest.mark.parametrize("conditioning", ["none", "time", "class"])
def test_unet_maps_digits_to_digits(conditioning):
    torch.manual_seed(0)
    model = UNet(8, conditioning).eval()
    x, t, c = torch.randn(3, 1, 28, 28), torch.rand(3), torch.eye(10)[:3]
    assert model(x, t, c).shape == (3, 1, 28, 28)


def test_time_and_class_modules_exist_only_when_asked():
    names = lambda m: {n.split(".")[0] for n, _ in m.named_parameters()}  # noqa: E731
    assert not {"fc_t1", "fc_c1"} & names(UNet(4, "none"))
    assert {"fc_t1", "fc_t2"} <= names(UNet(4, "time")) and "fc_c1" not in names(UNet(4, "time"))
    assert {"fc_t1", "fc_t2", "fc_c1", "fc_c2"} <= names(UNet(4, "class"))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="conditioning='both'"):
        UNet(8, "both")
    with pytest.raises(ValueError, match="needs t"):
        UNet(4, "time")(torch.randn(1, 1, 28, 28))
    with pytest.raises(ValueError, match="needs c"):
        UNet(4, "class")(torch.randn(1, 1, 28, 28), torch.zeros(1))


def reference_forward(model: UNet, x, t, c):
    """The course's formula written out with the model's own blocks: u0 = FC_c1(c) * u0 + FC_t1(t),
    u1 = FC_c2(c) * u1 + FC_t2(t) (time-only: scale 1), u1 computed from [u0, c2] and u2 from [u1, b]."""
    col = lambda v: v[..., None, None]  # noqa: E731
    a = model.enc0(x)
    b = model.enc1(a)
    c2 = model.enc2(b)
    u0 = model.unflatten(model.flatten(c2))
    t = t.reshape(-1, 1)
    scale1, scale2 = (col(model.fc_c1(c)), col(model.fc_c2(c))) if model.conditioning == "class" else (1.0, 1.0)
    u0 = scale1 * u0 + col(model.fc_t1(t))
    u1 = model.dec1(torch.cat([u0, c2], dim=1))
    u1 = scale2 * u1 + col(model.fc_t2(t))
    u2 = model.dec2(torch.cat([u1, b], dim=1))
    return model.out(model.dec3(torch.cat([u2, a], dim=1)))


@pytest.mark.parametrize("conditioning", ["time", "class"])
def test_conditioning_follows_the_course_formula(conditioning):
    """Catches scale and shift swapped, a time or class block applied to the wrong one of u0 / u1, or to the wrong
    side of dec1: the forward equals the formula written out by hand with the model's own blocks."""
    torch.manual_seed(0)
    model = UNet(8, conditioning).eval()
    for p in model.parameters():  # weights large enough that each FC term moves the output well past tolerance
        torch.nn.init.normal_(p, std=0.3) if p.dim() > 1 else None
    x, t = torch.randn(4, 1, 28, 28), torch.tensor([0.0, 0.3, 0.7, 1.0])
    c = torch.cat([torch.eye(10)[[2, 5, 7]], torch.zeros(1, 10)])  # three digits and the null class
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, c), reference_forward(model, x, t, c), rtol=1e-5, atol=1e-6)
