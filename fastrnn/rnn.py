"""The simple recurrent layer: tanh (or ReLU) units, trained by BPTT.

Seed 002, section 10.2, eq. 10.4 (the state part) in PyTorch's notation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

with the gradients of section 10.2.1 (the formulas after eq. 10.5). The time
loops are in ``fastrnn/_recurrent.pyx``; this module checks arguments,
allocates, and makes one call per sequence.
"""
import numpy as np

from fastrnn import _recurrent
from fastrnn._validation import (
    as_float_array,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
)

_ACTIVATIONS = {"tanh": 0, "relu": 1}


class RNN:
    """A single-layer Elman network, weight-compatible with ``torch.nn.RNN``.

    Parameters
    ----------
    input_size : int
        Features per time step, D.
    hidden_size : int
        Units, H.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        Whether the layer has ``bias_ih_l0`` and ``bias_hh_l0``.
    batch_first : bool
        If True, 3-D inputs and outputs are (B, T, D) instead of (T, B, D).
    dtype : numpy.float32 or numpy.float64
        Precision of the parameters and of every computation.
    seed : None, int or numpy.random.Generator
        Initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)],
        as PyTorch does.

    Attributes
    ----------
    params : dict of ndarray
        ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H), and with ``bias``,
        ``bias_ih_l0`` (H,), ``bias_hh_l0`` (H,): PyTorch's names and shapes,
        so ``torch_rnn.state_dict()`` loads unchanged.
    grads : dict of ndarray
        Same keys; filled by ``backward`` and accumulated until ``zero_grad``.

    Notes
    -----
    Shapes follow ``torch.nn.RNN``: x is (T, B, D) (time-major) or (T, D) for
    one unbatched sequence; the hidden state is (1, B, H), or (1, H) for an
    unbatched sequence. A sequence of length T = 0 is allowed: the output is
    empty and the final state is the initial one.
    """

    num_layers = 1
    num_directions = 1

    def __init__(self, input_size, hidden_size, *, nonlinearity="tanh", bias=True,
                 batch_first=False, dtype=np.float32, seed=None):
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dtype = check_dtype(dtype)
        H, D = self.hidden_size, self.input_size
        rng = check_random_state(seed)
        k = 1.0 / np.sqrt(H)
        shapes = {"weight_ih_l0": (H, D), "weight_hh_l0": (H, H)}
        if self.bias:
            shapes.update({"bias_ih_l0": (H,), "bias_hh_l0": (H,)})
        self.params = {
            name: rng.uniform(-k, k, size=shape).astype(self.dtype)
            for name, shape in shapes.items()
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._cache = None
        self._ones = np.ones(0, dtype=self.dtype)

    # ------------------------------------------------------------ utilities
    def zero_grad(self):
        """Set every gradient to zero (in place)."""
        for g in self.grads.values():
            g.fill(0)

    def state_dict(self):
        """A copy of the parameters, keyed as ``torch.nn.RNN.state_dict()``."""
        return {name: p.copy() for name, p in self.params.items()}

    def load_state_dict(self, state):
        """Load parameters from a dict of arrays (e.g. a PyTorch state_dict
        converted with ``{k: v.numpy() for k, v in sd.items()}``)."""
        missing = set(self.params) - set(state)
        unexpected = set(state) - set(self.params)
        if missing or unexpected:
            raise ValueError(
                f"state keys do not match the layer: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}"
            )
        new = {}
        for name, p in self.params.items():
            new[name] = as_float_array(state[name], name, self.dtype, shape=p.shape)
        for name, arr in new.items():
            self.params[name][...] = arr

    def _bias_sum(self):
        if self.bias:
            return self.params["bias_ih_l0"] + self.params["bias_hh_l0"]
        return np.zeros(self.hidden_size, dtype=self.dtype)

    # --------------------------------------------------------------- shapes
    def _time_major_input(self, x):
        x = np.asarray(x)
        x = as_float_array(x, "x", self.dtype, ndim=(2, 3))
        unbatched = x.ndim == 2
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features in its last dimension "
                f"(input_size), got shape {x.shape}"
            )
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        return x, unbatched

    def _state_array(self, h, name, batch, unbatched):
        H = self.hidden_size
        if h is None:
            return np.zeros((batch, H), dtype=self.dtype)
        want = (1, H) if unbatched else (1, batch, H)
        h = as_float_array(h, name, self.dtype, shape=want)
        return h.reshape(batch, H)

    def _external_output(self, y_tm, unbatched):
        if unbatched:
            return y_tm[:, 0, :]
        if self.batch_first:
            return np.ascontiguousarray(y_tm.transpose(1, 0, 2))
        return y_tm

    # ------------------------------------------------------------ the maths
    def forward(self, x, h0=None):
        """Run the layer over a sequence.

        Parameters
        ----------
        x : array_like, (T, B, D), (B, T, D) with ``batch_first``, or (T, D)
        h0 : array_like, (1, B, H) or (1, H) for unbatched x; zeros if None.

        Returns
        -------
        y : ndarray, (T, B, H) (or as x is laid out): every h_t.
        h_T : ndarray, like h0: the last state.
        """
        x_tm, unbatched = self._time_major_input(x)
        T, B, _ = x_tm.shape
        hs = np.empty((T + 1, B, self.hidden_size), dtype=self.dtype)
        hs[0] = self._state_array(h0, "h0", B, unbatched)
        _recurrent.rnn_forward(
            _ACTIVATIONS[self.nonlinearity], x_tm, self.params["weight_ih_l0"],
            np.ascontiguousarray(self.params["weight_hh_l0"].T), self._bias_sum(), hs,
        )
        self._cache = (x_tm, hs, unbatched)
        y = self._external_output(hs[1:].copy(), unbatched)
        h_T = hs[T].copy()
        return y, (h_T.reshape(1, self.hidden_size) if unbatched else h_T[None])

    def backward(self, dy=None, dh_T=None, *, clip_hidden=None):
        """Back-propagation through time for the last ``forward`` call.

        Parameter gradients are added into ``self.grads``.

        Parameters
        ----------
        dy : array_like, shaped as the output y, or None (no loss on y)
        dh_T : array_like, shaped as h_T, or None
        clip_hidden : float > 0 or None
            Clip dL/dh_t element-wise to [-clip_hidden, clip_hidden] at every
            step before it is propagated further back (Graves 2013, seed 002
            section 10.7.7).

        Returns
        -------
        dx : ndarray, shaped as x
        dh0 : ndarray, shaped as h0
        """
        if self._cache is None:
            raise RuntimeError("backward called before forward: there is nothing to differentiate")
        x_tm, hs, unbatched = self._cache
        T, B, _ = x_tm.shape
        H = self.hidden_size
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        da = np.zeros((T, B, H), dtype=self.dtype)
        if dy is not None:
            want = (T, H) if unbatched else ((B, T, H) if self.batch_first else (T, B, H))
            dy = as_float_array(dy, "dy", self.dtype, shape=want)
            if unbatched:
                da[:, 0, :] = dy
            elif self.batch_first:
                da[...] = dy.transpose(1, 0, 2)
            else:
                da[...] = dy
        dh0 = np.zeros((B, H), dtype=self.dtype)
        if dh_T is not None:
            dh_T = self._state_array(dh_T, "dh_T", B, unbatched)
            if T == 0:
                dh0[...] = dh_T
            else:
                da[T - 1] += dh_T
        dx = np.empty_like(x_tm)
        if T > 0:
            if self._ones.shape[0] < T * B:
                self._ones = np.ones(T * B, dtype=self.dtype)
            gb = np.zeros(H, dtype=self.dtype)
            _recurrent.rnn_backward(
                _ACTIVATIONS[self.nonlinearity], x_tm, self.params["weight_ih_l0"],
                self.params["weight_hh_l0"], hs, da, dx, dh0,
                self.grads["weight_ih_l0"], self.grads["weight_hh_l0"], gb,
                self._ones[: T * B], 0.0 if clip is None else clip,
            )
            if self.bias:
                self.grads["bias_ih_l0"] += gb
                self.grads["bias_hh_l0"] += gb
        dx = self._external_output(dx, unbatched)
        return dx, (dh0.reshape(1, H) if unbatched else dh0[None])

    def __call__(self, x, h0=None):
        return self.forward(x, h0)

    def __repr__(self):
        return (
            f"RNN({self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dtype={self.dtype.name})"
        )
