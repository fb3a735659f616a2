"""A multi-layer perceptron with ReLU between its Linear layers."""
from fastgrad import nn


class MLP(nn.Module):
    """x (N, ...) flattened to (N, sizes[0]) -> logits (N, sizes[-1]).

    ``MLP([784, 256, 10])`` is the original design's MNIST model.
    """

    def __init__(self, sizes=(784, 256, 10)):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        layers = [nn.Flatten()]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
