"""Shared by the PyTorch agreement tests and by make_torch_fixtures.py: the
cases, their inputs, and how each library is run on them.

A case runs a layer forward on (x, initial state, lengths), then backward with
the loss L = sum(dy * y) + sum(dh_n * h_n) [+ sum(dc_n * c_n)], and collects
the outputs, final states and every gradient under common keys.
"""
import numpy as np

import fastrnn

# kind, D, H, B, T, num_layers, bidirectional, lengths, batch_first, bias
SHAPES = [
    dict(D=3, H=5, B=2, T=4, num_layers=1, bidirectional=False),
    dict(D=7, H=6, B=1, T=1, num_layers=1, bidirectional=False),
    dict(D=4, H=3, B=1, T=25, num_layers=1, bidirectional=False),
    dict(D=5, H=9, B=3, T=6, num_layers=2, bidirectional=True),
    dict(D=4, H=5, B=4, T=7, num_layers=2, bidirectional=True, lengths=[7, 3, 5, 1]),
    dict(D=6, H=4, B=3, T=5, num_layers=1, bidirectional=False, batch_first=True),
    dict(D=2, H=7, B=5, T=3, num_layers=2, bidirectional=False, bias=False,
         lengths=[2, 3, 3, 1, 2]),
]


def case_id(case):
    parts = [case["kind"], case["dtype"], f"D{case['D']}H{case['H']}B{case['B']}T{case['T']}",
             f"L{case['num_layers']}"]
    if case.get("bidirectional"):
        parts.append("bi")
    if case.get("lengths") is not None:
        parts.append("ragged")
    if case.get("batch_first"):
        parts.append("bf")
    if case.get("bias", True) is False:
        parts.append("nobias")
    return "-".join(parts)


def all_cases():
    out = []
    for kind in ("lstm", "gru", "rnn"):
        for dtype in ("float64", "float32"):
            for shape in SHAPES:
                out.append(dict(shape, kind=kind, dtype=dtype))
    return out


def make_inputs(case, seed=0):
    """Random x, states and output gradients for a case (float64)."""
    rng = np.random.default_rng(seed)
    T, B, D, H = case["T"], case["B"], case["D"], case["H"]
    dirs = 2 if case.get("bidirectional") else 1
    LD = case["num_layers"] * dirs
    xs = (B, T, D) if case.get("batch_first") else (T, B, D)
    ys = (B, T, dirs * H) if case.get("batch_first") else (T, B, dirs * H)
    arrays = dict(x=rng.standard_normal(xs), h0=0.5 * rng.standard_normal((LD, B, H)),
                  dy=rng.standard_normal(ys), dh_n=rng.standard_normal((LD, B, H)))
    if case["kind"] == "lstm":
        arrays["c0"] = 0.5 * rng.standard_normal((LD, B, H))
        arrays["dc_n"] = rng.standard_normal((LD, B, H))
    if case.get("lengths") is not None:
        lengths = np.asarray(case["lengths"])
        arrays["lengths"] = lengths
        # Losses only on valid steps, as a padded loss would be masked.
        t = np.arange(T)[:, None] < lengths[None, :]
        mask = t.T[:, :, None] if case.get("batch_first") else t[:, :, None]
        arrays["dy"] = arrays["dy"] * mask
    return arrays


def fastrnn_layer(case, params):
    kw = dict(num_layers=case["num_layers"], bidirectional=case.get("bidirectional", False),
              bias=case.get("bias", True), batch_first=case.get("batch_first", False),
              dtype=np.dtype(case["dtype"]))
    cls = {"lstm": fastrnn.LSTM, "gru": fastrnn.GRU, "rnn": fastrnn.RNN}[case["kind"]]
    layer = cls(case["D"], case["H"], **kw)
    layer.load_state_dict(params)
    return layer


def run_fastrnn(case, params, arrays):
    """Outputs and gradients of fastrnn on a case, as float64 arrays."""
    layer = fastrnn_layer(case, params)
    lengths = arrays.get("lengths")
    if case["kind"] == "lstm":
        y, (h_n, c_n) = layer.forward(arrays["x"], (arrays["h0"], arrays["c0"]), lengths=lengths)
        dx, (dh0, dc0) = layer.backward(arrays["dy"], (arrays["dh_n"], arrays["dc_n"]))
        out = dict(y=y, h_n=h_n, c_n=c_n, dx=dx, dh0=dh0, dc0=dc0)
    else:
        y, h_n = layer.forward(arrays["x"], arrays["h0"], lengths=lengths)
        dx, dh0 = layer.backward(arrays["dy"], arrays["dh_n"])
        out = dict(y=y, h_n=h_n, dx=dx, dh0=dh0)
    for name, g in layer.grads.items():
        out["grad_" + name] = g
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def run_torch(case, seed=0):
    """(params, arrays, results) from PyTorch: its initial weights, the
    inputs, and its outputs and gradients."""
    import torch

    dtype = getattr(torch, case["dtype"])
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[case["kind"]]
    torch.manual_seed(seed)
    module = cls(case["D"], case["H"], num_layers=case["num_layers"],
                 bidirectional=case.get("bidirectional", False), bias=case.get("bias", True),
                 batch_first=case.get("batch_first", False)).to(dtype)
    arrays = make_inputs(case, seed)
    x = torch.tensor(arrays["x"], dtype=dtype, requires_grad=True)
    h0 = torch.tensor(arrays["h0"], dtype=dtype, requires_grad=True)
    if case["kind"] == "lstm":
        c0 = torch.tensor(arrays["c0"], dtype=dtype, requires_grad=True)
        state = (h0, c0)
    else:
        state = h0
    inp = x
    bf = case.get("batch_first", False)
    if "lengths" in arrays:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(arrays["lengths"]), batch_first=bf, enforce_sorted=False)
    y, final = module(inp, state)
    if "lengths" in arrays:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=bf, total_length=case["T"])
    t = lambda a: torch.tensor(a, dtype=dtype)  # noqa: E731
    if case["kind"] == "lstm":
        h_n, c_n = final
        loss = (y * t(arrays["dy"])).sum() + (h_n * t(arrays["dh_n"])).sum() \
            + (c_n * t(arrays["dc_n"])).sum()
    else:
        h_n = final
        loss = (y * t(arrays["dy"])).sum() + (h_n * t(arrays["dh_n"])).sum()
    loss.backward()
    res = dict(y=y, h_n=h_n, dx=x.grad, dh0=h0.grad)
    if case["kind"] == "lstm":
        res.update(c_n=c_n, dc0=c0.grad)
    for name, p in module.named_parameters():
        res["grad_" + name] = p.grad
    res = {k: v.detach().to(torch.float64).numpy() for k, v in res.items()}
    params = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    # fastrnn runs in the case's dtype from the same values PyTorch saw.
    arrays = {k: (v.astype(case["dtype"]) if v.dtype.kind == "f" else v)
              for k, v in arrays.items()}
    return params, arrays, res


def relative_errors(ours, ref):
    """max |ours - ref| / max |ref| for every key (0 for an all-zero ref
    matched exactly)."""
    errs = {}
    for k, r in ref.items():
        o = ours[k]
        assert o.shape == r.shape, f"{k}: shape {o.shape} != {r.shape}"
        scale = np.max(np.abs(r)) if r.size else 0.0
        diff = np.max(np.abs(o - r)) if r.size else 0.0
        errs[k] = diff / scale if scale > 0 else diff
    return errs


TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
