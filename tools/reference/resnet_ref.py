"""An independent PyTorch model of torchvision's ResNet and ResNeXt
classifiers, written from the layout facts (torchvision is not installed
with Debian's python3-torch):

  - stem: conv1 (7x7, stride 2, padding 3, no bias), bn1, ReLU, max pool
    (3x3, stride 2, padding 1);
  - four stages layer1..layer4 with stride 1, 2, 2, 2 and planes
    base, 2*base, 4*base, 8*base (torchvision: base 64);
  - BasicBlock (expansion 1): conv1 3x3 (stride), bn1, ReLU, conv2 3x3,
    bn2, plus the shortcut, ReLU;
  - Bottleneck (expansion 4, stride on the 3x3 conv as in torchvision):
    conv1 1x1 to width, bn1, ReLU, conv2 3x3 (stride, groups), bn2, ReLU,
    conv3 1x1 to 4*planes, bn3, plus the shortcut, ReLU;
    width = int(planes * width_per_group / 64) * groups;
  - shortcut: downsample.0 (1x1 conv, stride, no bias) and downsample.1
    (batch norm) when the stride is not 1 or the channels change;
  - global average pool, fc.

The state_dict keys and shapes equal torchvision's at base 64. A smaller
base gives the same layout with fewer channels, for test fixtures.
"""

import torch
from torch import nn
import torch.nn.functional as F

# Blocks per stage of each depth, and whether it uses Bottleneck blocks.
DEPTHS = {
    18: ([2, 2, 2, 2], False),
    34: ([3, 4, 6, 3], False),
    50: ([3, 4, 6, 3], True),
    101: ([3, 4, 23, 3], True),
    152: ([3, 8, 36, 3], True),
}

# torchvision's constructors: depth, groups, width_per_group.
ARCHS = {
    "resnet18": (18, 1, 64),
    "resnet34": (34, 1, 64),
    "resnet50": (50, 1, 64),
    "resnet101": (101, 1, 64),
    "resnet152": (152, 1, 64),
    "resnext50_32x4d": (50, 32, 4),
    "resnext101_32x8d": (101, 32, 8),
    "resnext101_64x4d": (101, 64, 4),
    "wide_resnet50_2": (50, 1, 128),
    "wide_resnet101_2": (101, 1, 128),
}

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Basic(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, groups, wpg, downsample, **kw):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(planes, **kw)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(planes, **kw)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.downsample is None else self.downsample(x)
        return F.relu(out + short)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, groups, wpg, downsample, **kw):
        super().__init__()
        width = int(planes * (wpg / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(width, **kw)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(width, **kw)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False, **kw)
        self.bn3 = nn.BatchNorm2d(planes * 4, **kw)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        short = x if self.downsample is None else self.downsample(x)
        return F.relu(out + short)


class ResNet(nn.Module):
    """A torchvision-layout ResNet. forward takes images in [-1, 1] (as
    ganshift does) and applies the ImageNet normalisation first."""

    def __init__(self, depth, groups=1, wpg=64, classes=1000, base=64, **kw):
        super().__init__()
        counts, bottleneck = DEPTHS[depth]
        block = Bottleneck if bottleneck else Basic
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(base, **kw)
        inplanes = base
        for i, n in enumerate(counts):
            planes, stride = base << i, 1 if i == 0 else 2
            blocks = []
            for j in range(n):
                s = stride if j == 0 else 1
                down = None
                if s != 1 or inplanes != planes * block.expansion:
                    down = nn.Sequential(
                        nn.Conv2d(inplanes, planes * block.expansion, 1, s, bias=False, **kw),
                        nn.BatchNorm2d(planes * block.expansion, **kw))
                blocks.append(block(inplanes, planes, s, groups, wpg, down, **kw))
                inplanes = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, classes, **kw)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.fc(self.features(x))


def build(arch, **kw):
    depth, groups, wpg = ARCHS[arch]
    return ResNet(depth, groups, wpg, **kw)
