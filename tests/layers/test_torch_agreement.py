"""fastrnn's LSTM, GRU and RNN against PyTorch on the same weights: outputs,
final states and every gradient, to 1e-10 (float64) or 1e-5 (float32) of the
largest reference value of each array.

Two sources for PyTorch's numbers: stored fixtures (tests/fixtures/, made by
tests/make_torch_fixtures.py), which run without PyTorch, and a live run
where PyTorch is installed.
"""
import glob
import json
import os

import numpy as np
import pytest

from torch_cases import TOLERANCE, all_cases, case_id, relative_errors, run_fastrnn
from child_process import TESTS_DIR

FIXTURES = sorted(glob.glob(os.path.join(TESTS_DIR, "fixtures", "torch_*.npz")))


def _check(case, ours, ref):
    errs = relative_errors(ours, ref)
    tol = TOLERANCE[case["dtype"]]
    bad = {k: e for k, e in errs.items() if not e <= tol}
    assert not bad, f"{case_id(case)}: relative errors above {tol}: {bad}"
    assert set(ours) == set(ref), f"keys differ: {set(ours) ^ set(ref)}"


def test_fixtures_present():
    kinds = {os.path.basename(p).split("-")[0] for p in FIXTURES}
    assert kinds == {"torch_lstm", "torch_gru", "torch_rnn"}


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.basename(p)[6:-4] for p in FIXTURES])
def test_against_stored_torch_results(path):
    with np.load(path) as data:
        case = json.loads(str(data["case"]))
        params = {k[6:]: data[k] for k in data.files if k.startswith("param:")}
        arrays = {k[3:]: data[k] for k in data.files if k.startswith("in:")}
        ref = {k[4:]: data[k] for k in data.files if k.startswith("out:")}
    _check(case, run_fastrnn(case, params, arrays), ref)


@pytest.mark.parametrize("case", all_cases(), ids=case_id)
def test_against_live_torch(case):
    pytest.importorskip("torch")
    from torch_cases import run_torch

    params, arrays, ref = run_torch(case, seed=1)
    _check(case, run_fastrnn(case, params, arrays), ref)


def test_from_torch_round_trip():
    torch = pytest.importorskip("torch")
    import fastrnn

    for tcls, fcls in [(torch.nn.LSTM, fastrnn.LSTM), (torch.nn.GRU, fastrnn.GRU),
                       (torch.nn.RNN, fastrnn.RNN)]:
        torch.manual_seed(3)
        module = tcls(4, 6, num_layers=2, bidirectional=True, batch_first=True)
        layer = fcls.from_torch(module)
        assert layer.dtype == np.float32 and layer.batch_first and layer.num_layers == 2
        assert layer.bidirectional and layer.hidden_size == 6 and layer.input_size == 4
        sd = module.state_dict()
        assert set(layer.params) == set(sd)
        for k, v in sd.items():
            np.testing.assert_array_equal(layer.params[k], v.numpy())
        x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
        y_ref = module(torch.tensor(x))[0].detach().numpy()
        y = layer.forward(x)[0]
        assert np.max(np.abs(y - y_ref)) <= 1e-5 * np.max(np.abs(y_ref))
        # and back: load our weights into a fresh torch module
        module2 = tcls(4, 6, num_layers=2, bidirectional=True, batch_first=True)
        module2.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
        np.testing.assert_array_equal(module2(torch.tensor(x))[0].detach().numpy(),
                                      y_ref)


def test_from_torch_keeps_relu_and_float64():
    torch = pytest.importorskip("torch")
    import fastrnn

    module = torch.nn.RNN(3, 4, nonlinearity="relu").double()
    layer = fastrnn.RNN.from_torch(module)
    assert layer.nonlinearity == "relu" and layer.dtype == np.float64
    lstm = fastrnn.LSTM.from_torch(torch.nn.LSTM(3, 4))
    assert lstm.forget_bias == 0.0
    with pytest.raises(ValueError, match="proj_size"):
        fastrnn.LSTM.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
