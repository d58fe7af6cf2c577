"""Write the PyTorch reference fixtures of tests/test_torch_agreement.py.

Run from the repository root with PyTorch installed:

    PYTHONPATH=$PWD python tests/make_torch_fixtures.py

Each fixture tests/fixtures/torch_<case>.npz holds the case's configuration,
PyTorch's initial weights (``param:<name>``), the inputs (``in:<name>``) and
PyTorch's outputs and gradients (``out:<name>``), so that the agreement test
runs where PyTorch is not installed.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_cases import SHAPES, case_id, run_torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# A small spread: every cell, both precisions, B=1/T=1, stacked and
# bidirectional, ragged lengths, batch_first.
FIXTURE_CASES = [
    dict(SHAPES[0], kind="lstm", dtype="float32"),
    dict(SHAPES[3], kind="lstm", dtype="float64"),
    dict(SHAPES[4], kind="lstm", dtype="float32"),
    dict(SHAPES[1], kind="gru", dtype="float64"),
    dict(SHAPES[4], kind="gru", dtype="float64"),
    dict(SHAPES[5], kind="gru", dtype="float32"),
    dict(SHAPES[6], kind="rnn", dtype="float64"),
]


def main():
    out_dir = os.path.join(HERE, "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    for case in FIXTURE_CASES:
        params, arrays, res = run_torch(case)
        data = {"case": np.array(json.dumps(case)), "torch_version": np.array(torch.__version__)}
        data.update({"param:" + k: v for k, v in params.items()})
        data.update({"in:" + k: v for k, v in arrays.items()})
        data.update({"out:" + k: v for k, v in res.items()})
        path = os.path.join(out_dir, f"torch_{case_id(case)}.npz")
        np.savez_compressed(path, **data)
        print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
