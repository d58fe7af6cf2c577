"""A thin training loop: mini-batches, (truncated) BPTT, clipping, an optimiser.

``Sequential`` chains a recurrent layer with a per-step output layer (the
o_t = c + V h_t of Goodfellow et al. (2016), eq. 10.4); ``train`` fits it to sequences with a
loss at every step or at the last step only, by full or truncated BPTT.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn.training import losses
from fastrnn._core.validation import (
    as_array,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_random_state,
    check_real,
)
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.training.optim import Adam, Optimizer
from fastrnn.layers.linear import Linear
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format
from fastrnn._core.progress import Progress


class Sequential:
    """A recurrent layer followed by an output layer, used as one model.

    Parameters
    ----------
    recurrent : a fastrnn recurrent layer (``forward(x, state) -> (y, state)``)
    output : a ``fastrnn.Linear`` (or None for the recurrent outputs as they are)

    ``params`` and ``grads`` are flat dicts whose keys carry the part's name
    (``recurrent.weight_hh_l0``, ``output.weight``); the arrays are the parts'
    own, so updating them updates the parts, and ``model.params[key] = array``
    is checked and copied into the part as the part's own ``params`` does.
    """

    def __init__(self, recurrent: Any, output: Optional[Linear] = None) -> None:
        _check_part(recurrent, "recurrent", "a fastrnn recurrent layer (fastrnn.RNN, LSTM, ...)")
        if output is not None:
            _check_part(output, "output", "a fastrnn.Linear or None")
        self.recurrent = recurrent
        self.output = output
        self.parts = {"recurrent": recurrent}
        if output is not None:
            self.parts["output"] = output

    @property
    def params(self) -> dict[str, np.ndarray]:
        return _PartsView(self.parts, "params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return _PartsView(self.parts, "grads")

    def to_torch(self) -> Any:
        """The same model as a PyTorch module (see `fastrnn.torch_export.to_torch`)."""
        from fastrnn.layers.torch_export import to_torch
        return to_torch(self)

    def zero_grad(self) -> None:
        for part in self.parts.values():
            part.zero_grad()

    def forward(self, x: ArrayLike, hx: Any = None, **former: Any) -> tuple[np.ndarray, Any]:
        """The recurrent layer's ``forward`` (whose former keyword names,
        in ``former``, it passes on), then the output layer's."""
        y, hx_n = self.recurrent.forward(x, hx, **former)
        if self.output is not None:
            y = self.output.forward(y)
        return y, hx_n

    def backward(self, dout: ArrayLike, dhx_n: Any = None, **former: Any
                 ) -> tuple[np.ndarray, Any]:
        """BPTT of the last ``forward``: (dx, dhx), as the recurrent layer's."""
        if self.output is not None:
            dout = self.output.backward(dout)
        return self.recurrent.backward(dout, dhx_n, **former)

    __call__ = forward

    # -- persistence (fastrnn.io) --
    # Each part saved as it would be alone.
    def _save_config(self) -> dict[str, Any]:
        return {"recurrent": io_format.part_config(self.recurrent),
                "output": None if self.output is None else io_format.part_config(self.output)}

    def _save_arrays(self) -> dict[str, np.ndarray]:
        arrays = io_format.part_arrays(self.recurrent, "recurrent")
        if self.output is not None:
            arrays.update(io_format.part_arrays(self.output, "output"))
        return arrays

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> Sequential:
        output = config.get("output")
        return cls(io_format.build_part(config.get("recurrent"), arrays, "recurrent"),
                   None if output is None else io_format.build_part(output, arrays, "output"))


io_format.register("Sequential", Sequential)


class _PartsView(dict):
    """A Sequential's ``params`` or ``grads``: the parts' arrays under
    ``"part.name"`` keys. An assignment goes to the part's own mapping (which
    checks it and copies it in); without this it would only rebind an entry
    of a throw-away dict, and the model would silently keep its old weights."""

    def __init__(self, parts, attr):
        super().__init__({f"{n}.{k}": v for n, part in parts.items()
                          for k, v in getattr(part, attr).items()})
        self._parts, self._attr = parts, attr

    def __setitem__(self, key, value):
        part, _, name = str(key).partition(".")
        if key not in self or part not in self._parts:
            raise ValueError(f"Sequential.{self._attr} has no entry {key!r}; its keys are "
                             f"{sorted(self)}")
        target = getattr(self._parts[part], self._attr)
        target[name] = value
        dict.__setitem__(self, key, target[name])

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"Sequential.{self._attr} cannot gain or lose entries; assign into "
                        f"them instead")

    __delitem__ = pop = popitem = clear = setdefault = _refuse


def _check_part(obj, name, expected):
    """A model part must have what training uses: ``params`` and ``grads``
    dicts, ``forward``, ``backward`` and ``zero_grad``."""
    # Mapping, not dict: a layer may keep its parameters in a mapping of its
    # own (one that refuses arrays of the wrong shape, say).
    ok = (isinstance(getattr(obj, "params", None), Mapping)
          and isinstance(getattr(obj, "grads", None), Mapping)
          and all(callable(getattr(obj, m, None)) for m in ("forward", "backward", "zero_grad")))
    if not ok:
        raise TypeError(f"{name} must be {expected}, with params and grads dicts and forward, "
                        f"backward and zero_grad methods; got {type(obj).__name__}")


class History(dict):
    """Per-epoch records of a ``train`` run: ``loss``, ``grad_norm``, ``seconds``."""


def _loss_and_grad(kind, out, target, last_only):
    if last_only:
        pred = out[-1]
        loss, g_last = (losses.mse(pred, target) if kind == "mse"
                        else losses.softmax_nll(pred, target))
        grad = np.zeros_like(out)
        grad[-1] = g_last
        return loss, grad
    return losses.mse(out, target) if kind == "mse" else losses.softmax_nll(out, target)


def train(model: Any, X: ArrayLike, Y: ArrayLike, *, loss: str = "mse",
          optimizer: Optional[Optimizer] = None, epochs: int = 10, batch_size: int = 32,
          tbptt: Optional[int] = None, clip_hidden: Optional[float] = None, omega: float = 0.0,
          callbacks: Iterable[Callable[[int, History], Optional[bool]]] = (),
          seed: SeedLike = None, progress: bool = True) -> History:
    """Fit ``model`` to sequences by mini-batch gradient descent with BPTT.

    Parameters
    ----------
    model : Sequential or a recurrent layer
    X : array_like, (T, N, D), time-major, N sequences of T steps
    Y : array_like
        Targets at every step, (T, N, O) (or (T, N) class indices for "nll"),
        or at the last step only, (N, O) (or (N,) classes).
    loss : {"mse", "nll"}
        Squared error, or softmax negative log-likelihood (Goodfellow et al. (2016), eq. 10.5).
    optimizer : fastrnn.optim.Optimizer or None
        Default: ``Adam(model, lr=1e-3)``. Put clipping (``clip_norm``,
        ``clip_value``, eq. 10.15) on the optimiser.
    epochs, batch_size : int
    tbptt : int or None
        Truncated BPTT: run k steps at a time, carrying the state forward
        across chunks but not the gradient back. None (or k >= T) is full BPTT.
    clip_hidden : float or None
        Clip dL/dh_t element-wise inside BPTT (Graves 2013).
    omega : float >= 0
        Weight of the information-flow regulariser (Goodfellow et al. (2016), eq. 10.16),
        added inside BPTT; needs a ``LeakyRNN`` (``tau=1`` is the tanh RNN).
        Omega is summed over the steps and, like the loss, averaged over the
        sequences of a batch.
        Pair it with norm clipping on the optimiser, as Goodfellow et al. (2016),
        sec. 10.7.7, advises.
    callbacks : iterable of callables ``cb(epoch, history) -> bool``
        Called after each epoch; returning True stops training.
    seed : None, int or Generator
        Shuffling of the sequences.
    progress : bool
        A progress bar (tqdm when installed, a plain line otherwise) with the
        loss and the gradient norm.

    Returns
    -------
    History
        Lists ``loss`` (mean over the epoch's batches), ``grad_norm`` (mean
        norm before clipping) and ``seconds`` per epoch.
    """
    check_choice(loss, "loss", ("mse", "nll"))
    if not isinstance(model, Sequential):
        _check_part(model, "model", "a fastrnn.Sequential or a recurrent layer")
    dtype = _model_dtype(model)
    X = as_float_array(X, "X", dtype, ndim=3)
    T, N, _ = X.shape
    if T == 0 or N == 0:
        # The losses are means over steps and sequences: nothing to average.
        raise ValueError(f"X must hold at least one sequence of at least one step, (T, N, D) "
                         f"with T, N >= 1; got shape {X.shape}")
    Y = as_array(Y, "Y")
    if loss == "nll":
        if Y.dtype.kind not in "iu":
            raise TypeError(f"Y must hold integer classes for loss='nll', got dtype {Y.dtype}")
        last_only = Y.shape == (N,)
        if not last_only and Y.shape != (T, N):
            raise ValueError(f"Y must have shape ({T}, {N}) or ({N},) for loss='nll', got {Y.shape}")
    else:
        Y = as_float_array(Y, "Y", dtype)
        last_only = Y.ndim == 2
        if not (last_only and Y.shape[0] == N) and not (Y.ndim == 3 and Y.shape[:2] == (T, N)):
            raise ValueError(f"Y must have shape ({T}, {N}, O) or ({N}, O) for loss='mse', "
                             f"got {Y.shape}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    k = T if tbptt is None else check_int(tbptt, "tbptt", minimum=1)
    omega = check_real(omega, "omega", low=0.0)
    clip_hidden = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True,
                             allow_none=True)
    progress = check_bool(progress, "progress")
    if isinstance(callbacks, (str, bytes, np.ndarray)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be an iterable of callables, got "
                        f"{type(callbacks).__name__}")
    callbacks = tuple(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be callable, got {type(cb).__name__}")
    if omega and not isinstance(getattr(model, "recurrent", model), LeakyRNN):
        raise TypeError("omega needs a fastrnn.LeakyRNN (tau=1 for the tanh RNN)")
    if optimizer is None:
        optimizer = Adam(model, lr=1e-3)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be a fastrnn.optim.Optimizer")
    else:
        # An optimiser built for another model would update its arrays and
        # leave this one untouched: training would silently do nothing.
        updated = optimizer.params
        for name, p in model.params.items():
            if not any(np.may_share_memory(p, q) for q in updated):
                raise ValueError(f"optimizer does not update the model's parameter {name!r}: "
                                 "build it from this model, e.g. Adam(model)")
    rng = check_random_state(seed)
    history = History(loss=[], grad_norm=[], seconds=[])
    n_batches = -(-N // batch_size)
    with Progress(epochs * n_batches, "train", "batches", enabled=progress) as bar:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            order = rng.permutation(N)
            epoch_loss, epoch_norm, n_updates = 0.0, 0.0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb = X[:, idx]
                yb = Y[idx] if last_only else Y[:, idx]
                state = None
                batch_loss = 0.0
                for start in range(0, T, k):
                    stop = min(start + k, T)
                    is_last_chunk = stop == T
                    if last_only and not is_last_chunk:
                        # no loss inside this chunk: only carry the state on
                        _, state = model.forward(xb[start:stop], state)
                        continue
                    optimizer.zero_grad()
                    out, state = model.forward(xb[start:stop], state)
                    chunk_target = yb if last_only else yb[start:stop]
                    value, grad = _loss_and_grad(loss, out, chunk_target, last_only)
                    # the loss is a mean over the batch's sequences; so is Omega
                    _backward(model, grad, clip_hidden, omega / len(idx))
                    norm = optimizer.step()
                    batch_loss += value
                    epoch_norm += norm if np.isfinite(norm) else 0.0
                    n_updates += 1
                n_chunks = 1 if last_only else -(-T // k)
                epoch_loss += batch_loss / n_chunks
                bar.update()
                bar.set_postfix(f"loss {batch_loss / n_chunks:.4g}  "
                                f"|g| {optimizer.last_grad_norm:.3g}")
            history["loss"].append(epoch_loss / n_batches)
            history["grad_norm"].append(epoch_norm / max(n_updates, 1))
            history["seconds"].append(time.perf_counter() - t0)
            if any(cb(epoch, history) for cb in callbacks):
                break
    return history


def _backward(model, grad, clip_hidden, omega):
    recurrent = model.recurrent if isinstance(model, Sequential) else model
    if isinstance(model, Sequential) and model.output is not None:
        grad = model.output.backward(grad)
    kwargs = {}
    if clip_hidden is not None:
        kwargs["clip_hidden"] = clip_hidden
    if omega:
        kwargs["omega"] = omega
    recurrent.backward(grad, **kwargs)


def _model_dtype(model):
    for p in model.params.values():
        return np.dtype(p.dtype)
    raise ValueError("model has no parameters")
