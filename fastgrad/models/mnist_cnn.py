"""The reference CNN of the original fastgrad design, with every layer trainable."""
from fastgrad import nn


class MNISTClassificationModel(nn.Module):
    """x (N, 1, 28, 28) -> logits (N, 10).

    conv1 1->16 k3 (28->26), maxpool 2 (->13), conv2 16->32 k3 (->11), maxpool 2 (->5),
    flatten (800), fc 800->120 ReLU, 120->84 ReLU, 84->10. The original design passed the conv
    output through NumPy, which cut the gradient; here the convolutions train too.
    ``conv_relu=True`` adds a ReLU after each convolution; ``impl="naive"`` uses the loop
    reference for the convolutions and pools.
    """

    def __init__(self, conv_relu=False, impl="im2col"):
        super().__init__()
        self.conv_relu = conv_relu
        self.conv1 = nn.Conv2d(1, 16, 3, impl=impl)
        self.pool1 = nn.MaxPool2d(2, impl=impl)
        self.conv2 = nn.Conv2d(16, 32, 3, impl=impl)
        self.pool2 = nn.MaxPool2d(2, impl=impl)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(800, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.conv1(x)
        if self.conv_relu:
            x = self.relu(x)
        x = self.pool1(x)
        x = self.conv2(x)
        if self.conv_relu:
            x = self.relu(x)
        x = self.pool2(x)
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
