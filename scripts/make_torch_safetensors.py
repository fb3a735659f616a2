"""Write the safetensors fixtures of tests/test_serialization_safetensors.py; needs PyTorch
(``pip install torch==2.13.0 safetensors``), which the tests themselves never import.

Both directions of the reference CNN (conv 1->16 k3, pool 2, conv 16->32 k3, pool 2, flatten,
800-120-84-10) are trained briefly on real MNIST and checked here, where PyTorch is:
  tests/fixtures/fastgrad_cnn.safetensors  trained by fastgrad, written by ``fastgrad.save``;
  tests/fixtures/torch_cnn.safetensors     trained by PyTorch, written by
                                           ``safetensors.torch.save_file``;
  tests/fixtures/cnn_logits.npz            8 test images and PyTorch's logits of each file's
                                           weights (loaded with ``load_state_dict(strict=True)``).
The script fails unless fastgrad's and PyTorch's logits agree to 1e-5 in both directions.
"""
import os
import sys

import numpy as np
import safetensors.torch
import torch

import fastgrad
from fastgrad.data.mnist import load_mnist, mnist_transform
from fastgrad.models import MNISTClassificationModel

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
STEPS, BATCH = 40, 64


class TorchCNN(torch.nn.Module):
    """fastgrad.models.MNISTClassificationModel written with torch.nn: the same names."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3)
        self.pool1 = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(16, 32, 3)
        self.pool2 = torch.nn.MaxPool2d(2)
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(800, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        x = self.pool2(self.conv2(self.pool1(self.conv1(x))))
        x = self.relu(self.fc1(self.flatten(x)))
        return self.fc3(self.relu(self.fc2(x)))


def train_fastgrad(images, labels):
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    optimizer = fastgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(STEPS):
        x, y = images[step * BATCH:(step + 1) * BATCH], labels[step * BATCH:(step + 1) * BATCH]
        optimizer.zero_grad()
        loss = fastgrad.nn.functional.cross_entropy(model(fastgrad.tensor(x)), fastgrad.tensor(y))
        loss.backward()
        optimizer.step()
    return model


def train_torch(images, labels):
    torch.manual_seed(0)
    model = TorchCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(STEPS):
        x, y = images[step * BATCH:(step + 1) * BATCH], labels[step * BATCH:(step + 1) * BATCH]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x)),
                                          torch.from_numpy(y.astype(np.int64))).backward()
        optimizer.step()
    return model


def torch_logits(state_dict, images):
    model = TorchCNN()
    model.load_state_dict(state_dict, strict=True)
    with torch.no_grad():
        return model(torch.from_numpy(images)).numpy()


def fastgrad_logits(path, images):
    model = MNISTClassificationModel()
    model.load_state_dict(fastgrad.load(path), strict=True)
    with fastgrad.no_grad():
        return model(fastgrad.tensor(images)).numpy()


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    train_images, train_labels = load_mnist(train=True)
    test_images, _ = load_mnist(train=False)
    x_train = mnist_transform(train_images[:STEPS * BATCH], add_channel=True)
    y_train = train_labels[:STEPS * BATCH]
    images = mnist_transform(test_images[:8], add_channel=True)

    ours = os.path.join(FIXTURES, "fastgrad_cnn.safetensors")
    fastgrad.save(train_fastgrad(x_train, y_train).state_dict(), ours)
    logits_of_ours = torch_logits(safetensors.torch.load_file(ours), images)

    theirs = os.path.join(FIXTURES, "torch_cnn.safetensors")
    safetensors.torch.save_file(train_torch(x_train, y_train).state_dict(), theirs)
    logits_of_theirs = torch_logits(safetensors.torch.load_file(theirs), images)

    for name, path, expected in (("fastgrad -> torch", ours, logits_of_ours),
                                 ("torch -> fastgrad", theirs, logits_of_theirs)):
        gap = np.abs(fastgrad_logits(path, images) - expected).max()
        print(f"{name}: largest logit difference {gap:.2e}")
        if gap > 1e-5:
            sys.exit(f"{name}: fastgrad and PyTorch disagree by {gap:.2e} > 1e-5")
    np.savez(os.path.join(FIXTURES, "cnn_logits.npz"), images=images,
             torch_logits_of_fastgrad_cnn=logits_of_ours,
             torch_logits_of_torch_cnn=logits_of_theirs)
    print(f"fixtures written to {os.path.normpath(FIXTURES)}")


if __name__ == "__main__":
    main()
