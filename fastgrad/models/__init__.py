"""Reference models: the MNIST MLP and the MNIST CNN of the original fastgrad design."""
from fastgrad.models.mlp import MLP
from fastgrad.models.mnist_cnn import MNISTClassificationModel
from fastgrad.models.bn_cnn import MNISTBatchNormCNN
