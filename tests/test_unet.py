import pytest
import torch

from difflab.unet import UNet, conv_block, down_block, fc_block, flatten, unflatten, up_block


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


def test_conditioning_changes_the_output():
    torch.manual_seed(0)
    model = UNet(8, "class").eval()
    for p in model.parameters():  # untrained BN/GELU nets can be near-constant; give the FC blocks some weight
        torch.nn.init.normal_(p, std=0.3) if p.dim() > 1 else None
    x = torch.randn(2, 1, 28, 28)
    t0, t1 = torch.zeros(2), torch.ones(2)
    c, null = torch.eye(10)[:2], torch.zeros(2, 10)
    assert not torch.allclose(model(x, t0, c), model(x, t1, c))
    assert not torch.allclose(model(x, t0, c), model(x, t0, null))
    assert not torch.allclose(model(x, t0, torch.eye(10)[[3, 3]]), model(x, t0, torch.eye(10)[[4, 4]]))


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
