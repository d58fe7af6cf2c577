"""to_torch: the PyTorch module computes what fastrnn's forward computes, and
from_torch brings the same weights back."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers.torch_export import to_torch

torch = pytest.importorskip("torch")

H = 6
CASES = {
    "rnn_relu_2x_bi": lambda dt: fastrnn.RNN(3, H, nonlinearity="relu", num_layers=2,
                                             bidirectional=True, dtype=dt, seed=0),
    "lstm_2x_bf": lambda dt: fastrnn.LSTM(3, H, num_layers=2, batch_first=True, dtype=dt,
                                          seed=1),
    "gru_bi_nobias": lambda dt: fastrnn.GRU(3, H, bidirectional=True, bias=False, dtype=dt,
                                            seed=2),
    "seq": lambda dt: fastrnn.Sequential(fastrnn.LSTM(3, H, dtype=dt, seed=3),
                                         fastrnn.Linear(H, 2, dtype=dt, seed=4)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_module_computes_what_forward_computes(case, dtype):
    model = CASES[case](dtype)
    module = to_torch(model)
    x = np.random.default_rng(0).standard_normal((5, 4, 3)).astype(dtype)
    y, state = model.forward(x)
    with torch.no_grad():
        ty, tstate = module(torch.from_numpy(x))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ty.numpy(), y, rtol=0, atol=tol)
    for t, s in zip(tstate if isinstance(tstate, tuple) else (tstate,),
                    state if isinstance(state, tuple) else (state,)):
        np.testing.assert_allclose(t.numpy(), s, rtol=0, atol=tol)


@pytest.mark.parametrize("case", ["rnn_relu_2x_bi", "lstm_2x_bf", "gru_bi_nobias"])
def test_from_torch_brings_the_same_weights_back(case):
    model = CASES[case](np.float64)
    back = type(model).from_torch(to_torch(model))
    assert back.params.keys() == model.params.keys()
    for name, p in model.params.items():
        np.testing.assert_array_equal(back.params[name], p, err_msg=name)


def test_refuses_what_pytorch_cannot_express():
    with pytest.raises(ValueError, match="peephole"):
        to_torch(fastrnn.LSTM(2, 3, peepholes=True))
    with pytest.raises(ValueError, match="reset_after"):
        to_torch(fastrnn.GRU(2, 3, reset_after=False))
    with pytest.raises(TypeError, match="LeakyRNN"):
        to_torch(fastrnn.LeakyRNN(2, 3))


def test_to_torch_is_a_method_of_every_model():
    model = CASES["seq"](np.float32)
    assert isinstance(model.to_torch(), torch.nn.Module)
    assert isinstance(model.recurrent.to_torch(), torch.nn.LSTM)
    assert isinstance(model.output.to_torch(), torch.nn.Linear)
