"""The course UNet (SPEC, Part B), with conditioning chosen at construction.

    x -> ConvBlock(1,D)=a -> DownBlock(D,D)=b -> DownBlock(D,2D)=c -> Flatten -> Unflatten=u0
      -> UpBlock(4D,D)[u0,c]=u1 -> UpBlock(2D,D)[u1,b]=u2 -> ConvBlock(2D,D)[u2,a] -> Conv2d(D,1)

conditioning = "none":  the single-step denoiser D(z).
conditioning = "time":  u0 += FC_t1(t), u1 += FC_t2(t), t normalised to [0, 1].
conditioning = "class": u0 = FC_c1(c) * u0 + FC_t1(t), u1 = FC_c2(c) * u1 + FC_t2(t), c one-hot (zeros = null).
"""

import torch
from torch import nn

CONDITIONINGS = ("none", "time", "class")
NUM_CLASSES = 10


def conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.GELU())


def down_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.GELU())


def up_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.GELU())


def flatten() -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(7), nn.GELU())


def unflatten(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(channels, channels, 7, 7, 0), nn.BatchNorm2d(channels), nn.GELU())


def conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout), conv(cout, cout))


def down_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(down_conv(cin, cout), conv_block(cout, cout))


def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(up_conv(cin, cout), conv_block(cout, cout))


def fc_block(fin: int, fout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(fin, fout), nn.GELU(), nn.Linear(fout, fout))


class UNet(nn.Module):
    """Maps a 1x28x28 image (and optionally t in [0, 1] and a class vector) to a 1x28x28 image."""

    def __init__(self, hidden: int = 128, conditioning: str = "none"):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning={conditioning!r}; allowed: {', '.join(CONDITIONINGS)}")
        if hidden < 1:
            raise ValueError(f"hidden={hidden}; allowed: an integer >= 1")
        d = hidden
        self.hidden, self.conditioning = hidden, conditioning
        self.enc0 = conv_block(1, d)
        self.enc1 = down_block(d, d)
        self.enc2 = down_block(d, 2 * d)
        self.flatten = flatten()
        self.unflatten = unflatten(2 * d)
        self.dec1 = up_block(4 * d, d)
        self.dec2 = up_block(2 * d, d)
        self.dec3 = conv_block(2 * d, d)
        self.out = nn.Conv2d(d, 1, 3, 1, 1)
        if conditioning in ("time", "class"):
            self.fc_t1, self.fc_t2 = fc_block(1, 2 * d), fc_block(1, d)
        if conditioning == "class":
            self.fc_c1, self.fc_c2 = fc_block(NUM_CLASSES, 2 * d), fc_block(NUM_CLASSES, d)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, c: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N,1,28,28); t: (N,) or (N,1) in [0,1]; c: (N,10) one-hot, all-zero rows mean 'no class'."""
        if self.conditioning != "none" and t is None:
            raise ValueError(f"a {self.conditioning}-conditioned UNet needs t")
        if self.conditioning == "class" and c is None:
            raise ValueError("a class-conditioned UNet needs c (use zeros for the unconditional estimate)")
        a = self.enc0(x)
        b = self.enc1(a)
        c2 = self.enc2(b)
        u0 = self.unflatten(self.flatten(c2))
        if self.conditioning != "none":
            t = t.reshape(-1, 1).to(x.dtype)
            shift1, shift2 = self.fc_t1(t)[..., None, None], self.fc_t2(t)[..., None, None]
            scale1 = scale2 = 1.0
            if self.conditioning == "class":
                c = c.to(x.dtype)
                scale1, scale2 = self.fc_c1(c)[..., None, None], self.fc_c2(c)[..., None, None]
            u0 = scale1 * u0 + shift1
        u1 = self.dec1(torch.cat([u0, c2], dim=1))
        if self.conditioning != "none":
            u1 = scale2 * u1 + shift2
        u2 = self.dec2(torch.cat([u1, b], dim=1))
        return self.out(self.dec3(torch.cat([u2, a], dim=1)))
