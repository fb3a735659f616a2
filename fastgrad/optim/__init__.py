"""Optimizers with PyTorch's update rules, and learning-rate schedulers (``lr_scheduler``)."""
from fastgrad.optim import lr_scheduler
from fastgrad.optim.adadelta import Adadelta
from fastgrad.optim.adagrad import Adagrad
from fastgrad.optim.adam import Adam, AdamW
from fastgrad.optim.optimizer import Optimizer
from fastgrad.optim.rmsprop import RMSprop
from fastgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]
