"""A layer's parameters and gradients cannot reach a kernel in a shape, dtype
or layout it does not expect, whichever way they are changed: assigned into
``params``/``grads``, loaded, replaced wholesale, or altered in place
(``resize``, a new ``shape``). Before, a wrong-shaped array assigned into
``params`` was read (or, through ``grads``, written) out of bounds by the
compiled loops. Also: integer arguments beyond a C int, and sizes that cannot
fit in memory, are clear errors."""
import copy
import pickle

import numpy as np
import pytest

import fastrnn
from fastrnn.layers.clockwork import ClockworkRNN
from fastrnn.layers.delays import DelayRNN
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.onnx.importer import Reversed

D, H = 3, 4


def _make(name):
    return {
        "rnn": lambda: fastrnn.RNN(D, H, num_layers=2, seed=0),
        "lstm": lambda: fastrnn.LSTM(D, H, num_layers=2, peepholes=True, seed=0),
        "gru": lambda: fastrnn.GRU(D, H, num_layers=2, seed=0),
        "gru-bi": lambda: fastrnn.GRU(D, H, bidirectional=True, seed=0),
        "gru-before": lambda: fastrnn.GRU(D, H, reset_after=False, seed=0),
        "leaky": lambda: LeakyRNN(D, H, tau=(1.5, 5.0), seed=0),
        "leaky-learned": lambda: LeakyRNN(D, H, learn_tau=True, seed=0),
        "clockwork": lambda: ClockworkRNN(D, H, periods=(1, 2), seed=0),
        "delay": lambda: DelayRNN(D, H, delays=(1, 3), num_layers=2, seed=0),
        "linear": lambda: fastrnn.Linear(D, H, seed=0),
        "reversed": lambda: Reversed(fastrnn.LSTM(D, H, seed=0)),
    }[name]()


NAMES = ["rnn", "lstm", "gru", "gru-bi", "gru-before", "leaky", "leaky-learned", "clockwork", "delay",
         "linear", "reversed"]
STEPPERS = ["rnn", "lstm", "gru", "gru-before"]


def _x():
    return np.random.default_rng(0).standard_normal((5, 2, D)).astype(np.float32)


def _run(layer, x=None):
    """forward then backward with a loss on every output."""
    x = _x() if x is None else x
    out = layer.forward(x)
    y = out[0] if isinstance(out, tuple) else out
    layer.backward(np.ones_like(y))
    return y


@pytest.mark.parametrize("name", NAMES)
def test_assigning_a_wrong_array_is_refused_at_once(name):
    layer = _make(name)
    key = next(iter(layer.params))
    p = layer.params[key]
    before = p.copy()
    wrong_shape = np.zeros(p.shape[:-1] + (p.shape[-1] + 1,), np.float32)
    with pytest.raises(ValueError, match=rf"params\['{key}'\] must have shape"):
        layer.params[key] = wrong_shape
    with pytest.raises(ValueError, match="must have shape"):
        layer.params[key] = p.reshape(-1)[:-1]
    with pytest.raises(TypeError, match="real numbers"):
        layer.params[key] = p.astype(np.complex64)
    with pytest.raises(TypeError, match="real numbers"):
        layer.params[key] = np.full(p.shape, None, dtype=object)
    with pytest.raises(TypeError, match="real numbers"):
        layer.params[key] = None
    with pytest.raises(ValueError, match="no entry 'weight_xx'"):
        layer.params["weight_xx"] = p
    with pytest.raises(TypeError, match="cannot gain or lose"):
        del layer.params[key]
    with pytest.raises(TypeError, match="cannot gain or lose"):
        layer.params.pop(key)
    with pytest.raises(ValueError, match="must have shape"):
        layer.grads[key] = wrong_shape
    with pytest.raises(ValueError, match="must have shape"):   # all checked before any copy
        layer.params.update({key: np.ones_like(p), list(layer.params)[1]: np.zeros(1)})
    np.testing.assert_array_equal(layer.params[key], before)
    _run(layer)   # still usable


@pytest.mark.parametrize("name", NAMES)
def test_a_good_array_is_copied_in_whatever_its_layout_and_dtype(name):
    """Assignment copies into the layer's own C-contiguous array of its dtype,
    which optimisers and step plans keep pointing at."""
    layer, ref = _make(name), _make(name)
    key = next(iter(layer.params))
    p = layer.params[key]
    new = np.random.default_rng(1).standard_normal(p.shape)   # float64 for a float32 layer
    layer.params[key] = np.asfortranarray(new) if new.ndim == 2 else new[::-1][::-1]
    assert layer.params[key] is p and p.flags.c_contiguous and p.dtype == np.float32
    np.testing.assert_array_equal(p, new.astype(np.float32))
    ref.params[key][...] = new
    x = _x()
    np.testing.assert_array_equal(layer.forward(x)[0], ref.forward(x)[0])


@pytest.mark.parametrize("name", NAMES)
def test_arrays_changed_in_place_are_caught_before_any_kernel(name):
    """No dict method sees ``resize`` or ``dtype``/``shape`` set on the array
    itself, or a plain dict.__setitem__: the once-per-call check does."""
    for how in ("resize", "shape", "dtype", "dict-setitem", "byteswapped", "grads-resize",
                "grads-readonly"):
        layer = _make(name)
        key = [k for k in layer.params if layer.params[k].size > 1][-1]
        if how == "resize":
            layer.params[key].resize(3 * layer.params[key].size, refcheck=False)
        elif how == "shape":
            layer.params[key].shape = (-1,) if layer.params[key].ndim > 1 else (1, -1)
        elif how == "dtype":
            layer.params[key].dtype = np.int32
        elif how == "dict-setitem":
            dict.__setitem__(layer.params, key, np.zeros(2, np.float32))
        elif how == "byteswapped":
            dict.__setitem__(layer.params, key, layer.params[key].astype(">f4"))
        elif how == "grads-resize":
            layer.grads[key].resize(1, refcheck=False)
        else:
            layer.grads[key].flags.writeable = False
        with pytest.raises(ValueError, match=rf"{'grads' if 'grads' in how else 'params'}"
                                             rf"\['{key}'\] must be"):
            _run(layer)


@pytest.mark.parametrize("name", STEPPERS)
def test_step_sees_assigned_values_and_refuses_arrays_changed_in_place(name):
    layer = _make(name)
    x = np.ones(D, np.float32)
    layer.step(x)   # builds the plan
    key = "weight_ih_l0"
    new = np.random.default_rng(2).standard_normal(layer.params[key].shape)
    layer.params[key] = new                     # fast path: same memory, new values
    y, _ = layer.step(x)
    y_ref = layer.forward(x[None])[0][0]
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    layer.params["weight_hh_l0"].resize(2, refcheck=False)   # the plan's pointer is stale
    with pytest.raises(ValueError, match=r"params\['weight_hh_l0'\] must be"):
        layer.step(x)
    with pytest.raises(ValueError, match=r"params\['weight_hh_l0'\] must be"):
        layer.step(x)   # and stays refused


def test_optimisers_keep_updating_a_parameter_after_assignment():
    """params[k] = v copies into the array the optimiser holds: before, it
    replaced the array and the optimiser went on updating the old one."""
    layer = fastrnn.RNN(D, H, seed=0)
    opt = fastrnn.SGD(layer, lr=0.1)
    layer.params["weight_hh_l0"] = np.zeros((H, H))
    layer.grads["weight_hh_l0"] = np.ones((H, H))
    opt.step()
    np.testing.assert_allclose(layer.params["weight_hh_l0"], -0.1)


@pytest.mark.parametrize("name", NAMES)
def test_load_state_dict_and_whole_dict_assignment(name):
    layer = _make(name)
    state = layer.state_dict()
    key = next(iter(state))
    before = {k: v.copy() for k, v in layer.params.items()}
    bad = dict(state, **{key: np.zeros((7, 7))})
    with pytest.raises(ValueError, match=f"{key} must have shape"):
        layer.load_state_dict(bad)
    with pytest.raises(TypeError, match="real numbers"):
        layer.load_state_dict(dict(state, **{key: state[key].astype(complex)}))
    with pytest.raises(TypeError, match="real numbers"):
        layer.load_state_dict(dict(state, **{key: "abc"}))
    with pytest.raises(ValueError, match="missing"):
        layer.load_state_dict({k: v for k, v in state.items() if k != key})
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['zz', 0\]"):
        layer.load_state_dict(dict(state, zz=1, **{}) | {0: 1})
    with pytest.raises(TypeError, match="dict of arrays"):
        layer.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="dict of arrays"):
        layer.params = None
    for k, v in layer.params.items():   # nothing changed on any error
        np.testing.assert_array_equal(v, before[k])
    other = _make(name)
    for v in other.params.values():
        v += 1
    arrays = list(layer.params.values())
    layer.params = other.params                  # copies in, checked
    assert all(a is b for a, b in zip(arrays, layer.params.values()))
    for k in layer.params:
        np.testing.assert_array_equal(layer.params[k], other.params[k])
    layer.grads = {k: np.ones_like(v) for k, v in layer.params.items()}
    assert all(np.all(g == 1) for g in layer.grads.values())


@pytest.mark.parametrize("name", ["lstm", "leaky-learned", "delay", "reversed"])
def test_copied_and_pickled_layers_keep_guarded_params(name):
    layer = _make(name)
    x = _x()
    y = layer.forward(x)[0]
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        np.testing.assert_array_equal(twin.forward(x)[0], y)
        key = next(iter(twin.params))
        with pytest.raises(ValueError, match="must have shape"):
            twin.params[key] = np.zeros(1)


# ------------------------------------------------------------------ integers
@pytest.mark.parametrize("make,match", [
    (lambda: ClockworkRNN(D, 4, periods=(1, 2, 4, 10**30)), r"periods\[3\] must be <= 2147483647"),
    (lambda: ClockworkRNN(D, 4, periods=(1, 2**31)), r"periods\[1\] must be <= 2147483647"),
    (lambda: ClockworkRNN(D, 4, periods=(1, -2)), r"periods\[1\] must be >= 1"),
    (lambda: DelayRNN(D, 4, delays=(1, 10**30)), r"delays\[1\] must be <= 2147483647"),
    (lambda: fastrnn.RNN(D, 10**30), r"hidden_size must be <= 2147483647"),
    (lambda: fastrnn.LSTM(10**30, 4), r"input_size must be <= 2147483647"),
    (lambda: fastrnn.LSTM(D, 2**30), r"hidden_size must be <= 536870911"),
    (lambda: fastrnn.GRU(D, 4, num_layers=10**30), r"num_layers must be <= 2147483647"),
    (lambda: LeakyRNN(D, 10**30), r"hidden_size must be <= 2147483647"),
    (lambda: ClockworkRNN(10**30, 4), r"input_size must be <= 2147483647"),
    (lambda: DelayRNN(D, 4, num_layers=10**30), r"num_layers must be <= 2147483647"),
    (lambda: fastrnn.Linear(10**30, 3), r"in_features must be <= 2147483647"),
])
def test_integers_beyond_a_c_int_are_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make", [
    lambda: fastrnn.LSTM(8, 8, num_layers=10**9),
    lambda: DelayRNN(8, 8, num_layers=10**9),
    lambda: fastrnn.RNN(8, 2**31 - 1),
    lambda: fastrnn.Linear(2**31 - 1, 2**31 - 1),
    lambda: LeakyRNN(8, 2**31 - 1),
])
def test_sizes_that_cannot_fit_are_memory_errors_before_building(make):
    """num_layers=10**9 used to build layers for minutes on its way to the
    out-of-memory killer."""
    with pytest.raises(MemoryError, match="GiB"):
        make()


def test_a_period_longer_than_the_sequence_updates_at_step_zero_only():
    x = _x()
    long = ClockworkRNN(D, 4, periods=(1, 2**31 - 1), seed=0)
    short = ClockworkRNN(D, 4, periods=(1, x.shape[0]), seed=0)
    short.load_state_dict(long.state_dict())
    np.testing.assert_array_equal(long.forward(x)[0], short.forward(x)[0])
    long.backward(np.ones((5, 2, 4)))
    short.backward(np.ones((5, 2, 4)))
    for k in long.grads:
        np.testing.assert_array_equal(long.grads[k], short.grads[k])


def test_sequence_arguments_must_be_sequences():
    with pytest.raises(TypeError, match="periods must be a sequence"):
        ClockworkRNN(D, 4, periods=4)
    with pytest.raises(TypeError, match="delays must be a sequence"):
        DelayRNN(D, 4, delays=3)
    with pytest.raises(TypeError, match=r"use fastrnn.DelayRNN\("):
        fastrnn.RNN(D, 4, delays=3)


# ---------------------------------------------------- data at every entry
@pytest.mark.parametrize("name", [n for n in NAMES if n != "linear"])
def test_bad_data_at_every_entry_point_is_a_value_or_type_error(name):
    layer = _make(name)
    x = _x()
    bad_x = [x.astype(complex), x.astype(object), x[..., :2], np.zeros((5, 2, D + 1)),
             x[None], x[0, 0], "abc", [[1, 2], [3]]]
    for b in bad_x:
        with pytest.raises((ValueError, TypeError)):
            layer.forward(b)
    y = layer.forward(x)[0]
    for b in (y.astype(complex), y[:-1], y[..., :-1], np.zeros(3), y.astype(object)):
        with pytest.raises((ValueError, TypeError)):
            layer.backward(b)
    LD = getattr(layer, "num_layers", 1) * getattr(layer, "num_directions", 1)
    h_bad = [np.zeros((LD, 3, H)), np.zeros((LD, 2, H), complex), np.zeros((LD + 1, 2, H))]
    for h in h_bad:
        state = (h, h) if isinstance(layer.layer if name == "reversed" else layer,
                                     fastrnn.LSTM) else h
        with pytest.raises((ValueError, TypeError)):
            layer.forward(x, state)
    layer.forward(x)
    layer.backward(np.ones_like(y))   # still fine afterwards


def test_lengths_checks():
    layer = fastrnn.GRU(D, H)
    x = _x()
    for lengths in ([1.5, 2], [1, 2, 3], [6, 1], [-1, 1], np.array([1, 2], np.uint64) + 2**63,
                    "ab", [None, 1], [[1, 2]], 2):
        with pytest.raises((ValueError, TypeError), match="lengths"):
            layer.forward(x, lengths=lengths)


@pytest.mark.parametrize("name,attr,value", [
    ("rnn", "input_size", 5), ("lstm", "hidden_size", 8), ("gru", "num_layers", 3),
    ("lstm", "peepholes", False), ("rnn", "bias", False), ("gru-bi", "bidirectional", False),
    ("gru", "dtype", np.dtype(np.float64)), ("leaky", "hidden_size", 9),
    ("leaky-learned", "learn_tau", False), ("clockwork", "module_size", 4),
    ("clockwork", "periods", (1, 1)), ("delay", "delays", (1,)), ("delay", "num_layers", 1),
    ("linear", "in_features", 9), ("reversed", "hidden_size", 7),
])
def test_changing_a_size_after_construction_is_refused(name, attr, value):
    """The loops are called with the layer's size attributes; changed after
    construction they no longer describe the arrays (a larger input_size or
    a shorter delay read out of bounds)."""
    layer = _make(name)
    target = layer.layer if name == "reversed" else layer
    setattr(target, attr, value)
    if attr == "bidirectional":
        target.num_directions = 1
    width = value if attr in ("input_size", "in_features") else D
    with pytest.raises(ValueError, match="was .* when the layer was built"):
        layer.forward(np.zeros((5, 2, width), np.float32))


class _FakeTorchModule:
    """Duck-typed like a torch.nn.LSTM (torch is not needed)."""

    class _T:
        def __init__(self, a):
            self.a, self.dtype = a, "torch.float32"

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    def __init__(self, state, **config):
        self.__dict__.update(config)
        self._state = state
        self.weight_ih_l0 = self._T(state["weight_ih_l0"])

    def state_dict(self):
        return {k: self._T(v) for k, v in self._state.items()}


def test_from_torch_checks_what_it_is_given():
    ref = fastrnn.LSTM(D, H, forget_bias=0.0, seed=0)
    config = dict(input_size=D, hidden_size=H, num_layers=1, bidirectional=False, bias=True,
                  batch_first=False)
    layer = fastrnn.LSTM.from_torch(_FakeTorchModule(ref.state_dict(), **config))
    for k in ref.params:
        np.testing.assert_array_equal(layer.params[k], ref.params[k])
    for bad in (None, object(), "lstm"):
        with pytest.raises(TypeError, match="module must be a torch.nn.LSTM"):
            fastrnn.LSTM.from_torch(bad)
    with pytest.raises(ValueError, match="hidden_size must be <= "):
        fastrnn.LSTM.from_torch(_FakeTorchModule(ref.state_dict(), **dict(config,
                                                                           hidden_size=10**30)))
    wrong = dict(ref.state_dict(), weight_hh_l0=np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="weight_hh_l0 must have shape"):
        fastrnn.LSTM.from_torch(_FakeTorchModule(wrong, **config))
    with pytest.raises(ValueError, match="nonlinearity"):
        fastrnn.RNN.from_torch(_FakeTorchModule(fastrnn.RNN(D, H).state_dict(), **config))


def test_leaky_fixed_rates_are_checked_before_the_loop():
    """fastrnn.load sets the private alpha of a fixed-tau LeakyRNN; whatever
    it holds, the loop reads exactly H rates."""
    layer = LeakyRNN(D, H, seed=0)
    layer._alpha = np.ones(H - 1, np.float32)
    with pytest.raises(ValueError, match=rf"alpha must have shape \({H},\)"):
        layer.forward(_x())


@pytest.mark.parametrize("name", STEPPERS)
def test_step_with_an_empty_batch(name):
    layer = _make(name)
    y, state = layer.step(np.zeros((0, D), np.float32))
    assert y.shape == (0, H)
    y, state = layer.step(np.zeros((0, D), np.float32), state)
    assert y.shape == (0, H)
