"""Data, tasks and measurements: data sets (Mackey-Glass, NARMA, Lorenz, the
memory task), the long-term dependency tasks, metrics, and the diagnostics of
gradient flow and stability."""
from fastrnn.analysis import datasets, diagnostics, metrics, tasks

__all__ = ["datasets", "diagnostics", "metrics", "tasks"]
