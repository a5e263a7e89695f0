"""An independent PyTorch model of the released 128x128 BigGAN, written from
the facts in shared/biggan-format.md (not from BigGAN-PyTorch), used to make
the parity fixtures of ganshift's Go BigGAN.

The modules' state_dict keys and shapes equal those of the released G.pth and
D.pth, so a state dict saved from them is read by anything that reads those.
Width, class count, latent size, shared-embedding size and attention
resolutions are parameters; the block layout is the 128x128 one.
"""

import torch
from torch import nn
import torch.nn.functional as F

SN_EPS = 1e-6
BN_EPS = 1e-5
BN_MOMENTUM = 0.1

# 128x128 block tables: channel multipliers (times the width) and the
# resolution each block outputs.
G_IN = [16, 16, 8, 4, 2]
G_OUT = [16, 8, 4, 2, 1]
G_RES = [8, 16, 32, 64, 128]
D_IN = [None, 1, 2, 4, 8, 16]  # None: the 3 image channels
D_OUT = [1, 2, 4, 8, 16, 16]
D_DOWN = [True, True, True, True, True, False]
D_RES = [64, 32, 16, 8, 4, 4]


def _unit_rows(x, eps):
    """x divided by max(norm of x, eps), x a (1, n) row."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(eps)


class SpectralNorm(nn.Module):
    """Holds weight, optional bias, u0 (1, out) and sv0 (1,). The normalised
    weight comes from one power iteration that starts at the stored u on
    every call; u0 and sv0 are overwritten only in training mode."""

    def __init__(self, shape, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(*shape))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        self.register_buffer("u0", torch.randn(1, shape[0]))
        self.register_buffer("sv0", torch.ones(1))

    def normalised_weight(self):
        w = self.weight.view(self.weight.shape[0], -1)
        with torch.no_grad():
            right = _unit_rows(self.u0 @ w, SN_EPS)    # (1, rest)
            left = _unit_rows(right @ w.t(), SN_EPS)   # (1, out)
        sigma = (right @ w.t() @ left.t()).view(())
        if self.training:
            with torch.no_grad():
                self.u0.copy_(left)
                self.sv0.copy_(sigma.detach().view(1))
        return self.weight / sigma


class SNConv(SpectralNorm):
    def __init__(self, cin, cout, k, bias=True):
        super().__init__((cout, cin, k, k), bias)
        self.pad = k // 2

    def forward(self, x):
        return F.conv2d(x, self.normalised_weight(), self.bias, padding=self.pad)


class SNLinear(SpectralNorm):
    def __init__(self, cin, cout, bias=True):
        super().__init__((cout, cin), bias)

    def forward(self, x):
        return F.linear(x, self.normalised_weight(), self.bias)


class SNEmbedding(SpectralNorm):
    def __init__(self, rows, dim):
        super().__init__((rows, dim), False)

    def forward(self, y):
        return F.embedding(y, self.normalised_weight())


def _normalise(x, mean, var, weight, bias, training):
    """Batch norm: batch statistics (updating mean and var in place) when
    training, the stored ones otherwise."""
    return F.batch_norm(x, mean, var, weight, bias, training, BN_MOMENTUM, BN_EPS)


class ConditionalBN(nn.Module):
    """Normalise, then scale by 1 + gain(c) and shift by bias(c)."""

    def __init__(self, ch, cond):
        super().__init__()
        self.register_buffer("stored_mean", torch.zeros(ch))
        self.register_buffer("stored_var", torch.ones(ch))
        self.gain = SNLinear(cond, ch, bias=False)
        self.bias = SNLinear(cond, ch, bias=False)

    def forward(self, x, c):
        h = _normalise(x, self.stored_mean, self.stored_var, None, None, self.training)
        scale = 1 + self.gain(c)
        shift = self.bias(c)
        return h * scale[:, :, None, None] + shift[:, :, None, None]


class OutputBN(nn.Module):
    """Plain batch norm whose gain multiplies as is."""

    def __init__(self, ch):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))
        self.register_buffer("stored_mean", torch.zeros(ch))
        self.register_buffer("stored_var", torch.ones(ch))

    def forward(self, x):
        return _normalise(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training)


class SelfAttention(nn.Module):
    """SAGAN attention with 2x2 max-pooled keys and values."""

    def __init__(self, ch):
        super().__init__()
        self.gamma = nn.Parameter(torch.tensor(0.0))
        self.theta = SNConv(ch, ch // 8, 1, bias=False)
        self.phi = SNConv(ch, ch // 8, 1, bias=False)
        self.g = SNConv(ch, ch // 2, 1, bias=False)
        self.o = SNConv(ch // 2, ch, 1, bias=False)

    def forward(self, x):
        b, ch, h, w = x.shape
        query = self.theta(x).flatten(2)                      # (B, C/8, HW)
        key = F.max_pool2d(self.phi(x), 2).flatten(2)         # (B, C/8, HW/4)
        value = F.max_pool2d(self.g(x), 2).flatten(2)         # (B, C/2, HW/4)
        attn = torch.softmax(query.transpose(1, 2) @ key, dim=-1)   # (B, HW, HW/4)
        mixed = (value @ attn.transpose(1, 2)).view(b, ch // 2, h, w)
        return x + self.gamma * self.o(mixed)


class GBlock(nn.Module):
    def __init__(self, cin, cout, cond):
        super().__init__()
        # Registration order gives the state dict's key order.
        self.conv1 = SNConv(cin, cout, 3)
        self.conv2 = SNConv(cout, cout, 3)
        self.conv_sc = SNConv(cin, cout, 1)
        self.bn1 = ConditionalBN(cin, cond)
        self.bn2 = ConditionalBN(cout, cond)

    def forward(self, x, c):
        double = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")
        h = self.conv1(double(F.relu(self.bn1(x, c))))
        h = self.conv2(F.relu(self.bn2(h, c)))
        return h + self.conv_sc(double(x))


class Generator(nn.Module):
    def __init__(self, ch=96, n_classes=1000, dim_z=120, shared_dim=128, attn=(64,)):
        super().__init__()
        self.chunk = dim_z // (len(G_IN) + 1)
        assert self.chunk * (len(G_IN) + 1) == dim_z
        self.stem_ch = G_IN[0] * ch
        cond = shared_dim + self.chunk
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.chunk, self.stem_ch * 16)
        blocks = []
        for i in range(len(G_IN)):
            stage = [GBlock(G_IN[i] * ch, G_OUT[i] * ch, cond)]
            if G_RES[i] in attn:
                stage.append(SelfAttention(G_OUT[i] * ch))
            blocks.append(nn.ModuleList(stage))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(OutputBN(G_OUT[-1] * ch), nn.ReLU(), SNConv(G_OUT[-1] * ch, 3, 3))

    def forward(self, z, e):
        """z (B, dim_z) and embedded classes e (B, shared_dim) to images."""
        zs = torch.split(z, self.chunk, dim=1)
        h = self.linear(zs[0]).view(z.shape[0], self.stem_ch, 4, 4)
        for stage, zi in zip(self.blocks, zs[1:]):
            c = torch.cat([e, zi], dim=1)
            h = stage[0](h, c)
            for extra in stage[1:]:
                h = extra(h)
        return torch.tanh(self.output_layer(h))


class DBlock(nn.Module):
    def __init__(self, cin, cout, first, down):
        super().__init__()
        self.first, self.down = first, down
        self.conv1 = SNConv(cin, cout, 3)
        self.conv2 = SNConv(cout, cout, 3)
        self.conv_sc = SNConv(cin, cout, 1) if (cin != cout or down) else None

    def _pool(self, t):
        return F.avg_pool2d(t, 2) if self.down else t

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.first:  # pool, then convolve
            sc = self._pool(x)
            sc = self.conv_sc(sc) if self.conv_sc is not None else sc
        else:           # convolve, then pool
            sc = self.conv_sc(x) if self.conv_sc is not None else x
            sc = self._pool(sc)
        return h + sc


class Discriminator(nn.Module):
    def __init__(self, ch=96, n_classes=1000, attn=(64,)):
        super().__init__()
        blocks = []
        for i in range(len(D_OUT)):
            cin = 3 if D_IN[i] is None else D_IN[i] * ch
            stage = [DBlock(cin, D_OUT[i] * ch, i == 0, D_DOWN[i])]
            if D_RES[i] in attn:
                stage.append(SelfAttention(D_OUT[i] * ch))
            blocks.append(nn.ModuleList(stage))
        self.blocks = nn.ModuleList(blocks)
        self.linear = SNLinear(D_OUT[-1] * ch, 1)
        self.embed = SNEmbedding(n_classes, D_OUT[-1] * ch)

    def forward(self, x, y):
        h = x
        for stage in self.blocks:
            for m in stage:
                h = m(h)
        h = F.relu(h).sum(dim=(2, 3))
        return self.linear(h) + (self.embed(y) * h).sum(dim=1, keepdim=True)
