"""Training by back-propagation through time: losses, gradient clipping,
optimisers (with their fused C updates), weight initialisation, and the
``Sequential`` model with its ``train`` loop."""
from fastrnn.training import init, losses, optim
from fastrnn.training.clip import clip_grad_norm, clip_grad_value, global_norm
from fastrnn.training.optim import SGD, Adam
from fastrnn.training.train import Sequential, train

__all__ = ["init", "losses", "optim", "clip_grad_norm", "clip_grad_value", "global_norm",
           "SGD", "Adam", "Sequential", "train"]
