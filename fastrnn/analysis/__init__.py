"""Data, tasks and measurements: data sets under ReservoirPy's names
(Mackey-Glass, NARMA, Lorenz, Rössler, Lorenz-96, Kuramoto-Sivashinsky, the
Hénon and logistic maps, superimposed oscillators, the memory task, and the
``to_forecasting`` windows), the long-term dependency tasks, metrics, and the
diagnostics of gradient flow and stability."""
from fastrnn.analysis import datasets, diagnostics, metrics, tasks

__all__ = ["datasets", "diagnostics", "metrics", "tasks"]
