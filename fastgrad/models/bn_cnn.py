"""A small BatchNorm CNN for MNIST: conv-BN-ReLU blocks, global average pooling, one Linear."""
from fastgrad import nn


def conv_bn_relu(in_channels, out_channels):
    """3x3 convolution keeping the size (padding="same"), BatchNorm2d, ReLU. The convolution has no
    bias: BatchNorm's shift would cancel it."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding="same", bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class MNISTBatchNormCNN(nn.Module):
    """x (N, 1, 28, 28) -> logits (N, 10).

    One conv-BN-ReLU block per entry of ``widths`` (its channels; default 16, 32, 64, 64 at
    28x28, 14x14, 7x7 and 3x3: a 2x2 max pool between blocks), then an adaptive average pool
    to 1x1 and a Linear head: no large fully connected layer, so the parameters are few
    (61k by default).
    """

    def __init__(self, widths=(16, 32, 64, 64), num_classes=10):
        super().__init__()
        blocks = []
        in_channels = 1
        for i, width in enumerate(widths):
            if i:
                blocks.append(nn.MaxPool2d(2))
            blocks.append(conv_bn_relu(in_channels, width))
            in_channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.head(self.flatten(self.pool(self.features(x))))
