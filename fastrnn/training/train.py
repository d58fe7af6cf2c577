"""A thin training loop: mini-batches, (truncated) BPTT, clipping, an optimiser.

``train`` fits a model (a recurrent layer, or a `fastrnn.Sequential` of
layers ending in a per-step output layer, the o_t = c + V h_t of Goodfellow
et al. (2016), eq. 10.4) to sequences with a loss at every step or at the
last step only, by full or truncated BPTT. ``Sequential`` lives in
`fastrnn.models.sequential`; this module's name for it is kept.
"""
from __future__ import annotations

import time
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
from fastrnn.layers.embedding import Embedding, check_tokens
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.models.sequential import Sequential, _check_part, _PartsView  # noqa: F401
from fastrnn.training.optim import Adam, Optimizer
from fastrnn._core.validation import SeedLike
from fastrnn._core.progress import Progress


class History(dict):
    """Per-epoch records of a ``train`` run: ``loss``, ``grad_norm``, ``seconds``."""


def _loss_and_grad(kind, out, target, last_only, lengths=None):
    """(loss, dL/dout) of a chunk: a mean over its steps (those within each
    sequence's ``lengths`` when given), or over the sequences' last steps;
    None when no step of the chunk is within its sequence."""
    measure = losses.mse if kind == "mse" else losses.softmax_nll
    grad = np.zeros_like(out)
    if last_only:
        rows = np.arange(out.shape[1])
        last = np.full(out.shape[1], out.shape[0] - 1) if lengths is None else lengths - 1
        loss, grad[last, rows] = measure(out[last, rows], target)
        return loss, grad
    if lengths is None:
        return measure(out, target)
    valid = np.arange(out.shape[0])[:, None] < lengths[None, :]
    if not valid.any():
        return None
    loss, grad[valid] = measure(out[valid], target[valid])
    return loss, grad


def train(model: Any, X: ArrayLike, Y: ArrayLike, *, loss: str = "mse",
          optimizer: Optional[Optimizer] = None, epochs: int = 10, batch_size: int = 32,
          tbptt: Optional[int] = None, clip_hidden: Optional[float] = None, omega: float = 0.0,
          callbacks: Iterable[Callable[[int, History], Optional[bool]]] = (),
          seed: SeedLike = None, progress: bool = True,
          lengths: Optional[ArrayLike] = None) -> History:
    """Fit ``model`` to sequences by mini-batch gradient descent with BPTT.

    Parameters
    ----------
    model : Sequential or a recurrent layer
    X : array_like, (T, N, D), time-major, N sequences of T steps; for a
        `Sequential` whose first layer is an `Embedding` (a language model,
        say), integer token ids (T, N).
    Y : array_like
        Targets at every step, (T, N, O) (or (T, N) class indices for "nll"),
        or at the last step only, (N, O) (or (N,) classes).
    loss : {"mse", "nll", "softmax"}
        Squared error, or softmax negative log-likelihood (Goodfellow et al. (2016), eq. 10.5;
        "softmax" is another name for "nll").
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
    lengths : array_like of int, (N,), optional
        Valid steps of each sequence, in [1, T], for sequences padded to T
        steps: the model runs each only over its own steps (PyTorch's packed
        sequences, the ``lengths`` of the recurrent layers), the loss is the
        mean over valid steps only, and a last-step target is compared with
        the output at each sequence's own last step (with full BPTT).

    The model's mode is left as it is: dropout acts while the model is in
    training mode (the default of every layer), so call ``model.eval()``
    after training for inference (and ``model.train()`` before, if it was
    put in evaluation mode).

    Returns
    -------
    History
        Lists ``loss`` (mean over the epoch's batches), ``grad_norm`` (mean
        norm before clipping) and ``seconds`` per epoch.
    """
    check_choice(loss, "loss", ("mse", "nll", "softmax"))
    loss = "nll" if loss == "softmax" else loss
    if not isinstance(model, Sequential):
        _check_part(model, "model", "a fastrnn.Sequential or a recurrent layer")
    dtype = _model_dtype(model)
    first = model.layers[0] if isinstance(model, Sequential) else model
    if isinstance(first, Embedding):
        X = check_tokens(X, first.num_embeddings, "X")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional token ids (T, N) for a model that "
                             f"starts with an Embedding, got shape {X.shape}")
        layout = "(T, N)"
    else:
        X = as_float_array(X, "X", dtype, ndim=3)
        layout = "(T, N, D)"
    T, N = X.shape[:2]
    if T == 0 or N == 0:
        # The losses are means over steps and sequences: nothing to average.
        raise ValueError(f"X must hold at least one sequence of at least one step, {layout} "
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
    callbacks = check_callbacks(callbacks)
    if lengths is not None:
        lengths = as_array(lengths, "lengths")
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"lengths must be an array of integers, got dtype {lengths.dtype}")
        if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must have shape ({N},) (one per sequence) and values in "
                             f"[1, {T}] (the time steps), got shape {lengths.shape}")
        lengths = lengths.astype(np.intp)
        if last_only and k < T:
            raise ValueError("lengths with a last-step target Y needs full BPTT (tbptt=None): "
                             "a sequence's last step may lie in any chunk")
    recurrent = model.recurrent_layers if isinstance(model, Sequential) else (model,)
    if omega and not all(isinstance(layer, LeakyRNN) for layer in recurrent):
        raise TypeError("omega needs a fastrnn.LeakyRNN (tau=1 for the tanh RNN) as every "
                        "recurrent layer of the model")
    optimizer = check_optimizer(model, optimizer)
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
                batch_loss, n_chunks = 0.0, 0
                for start in range(0, T, k):
                    stop = min(start + k, T)
                    is_last_chunk = stop == T
                    steps = {} if lengths is None else {
                        "lengths": np.clip(lengths[idx] - start, 0, stop - start)}
                    if last_only and not is_last_chunk:
                        # no loss inside this chunk: only carry the state on
                        _, state = model.forward(xb[start:stop], state, **steps)
                        continue
                    optimizer.zero_grad()
                    out, state = model.forward(xb[start:stop], state, **steps)
                    chunk_target = yb if last_only else yb[start:stop]
                    measured = _loss_and_grad(loss, out, chunk_target, last_only,
                                              steps.get("lengths"))
                    if measured is None:   # every sequence of the batch ended before
                        continue
                    value, grad = measured
                    # the loss is a mean over the batch's sequences; so is Omega
                    _backward(model, grad, clip_hidden, omega / len(idx))
                    norm = optimizer.step()
                    batch_loss += value
                    n_chunks += 1
                    epoch_norm += norm if np.isfinite(norm) else 0.0
                    n_updates += 1
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


def check_callbacks(callbacks: Iterable[Callable[[int, History], Optional[bool]]]
                    ) -> tuple[Callable[[int, History], Optional[bool]], ...]:
    """The ``callbacks`` of a training loop as a tuple, each checked to be
    callable."""
    if isinstance(callbacks, (str, bytes, np.ndarray)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be an iterable of callables, got "
                        f"{type(callbacks).__name__}")
    callbacks = tuple(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be callable, got {type(cb).__name__}")
    return callbacks


def check_optimizer(model: Any, optimizer: Optional[Optimizer]) -> Optimizer:
    """The optimiser of a training loop: ``Adam(model, lr=1e-3)`` for None,
    else ``optimizer`` once it is checked to update every parameter of
    ``model``."""
    if optimizer is None:
        return Adam(model, lr=1e-3)
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be a fastrnn.optim.Optimizer")
    # An optimiser built for another model would update its arrays and
    # leave this one untouched: training would silently do nothing.
    updated = optimizer.params
    for name, p in model.params.items():
        if not any(np.may_share_memory(p, q) for q in updated):
            raise ValueError(f"optimizer does not update the model's parameter {name!r}: "
                             "build it from this model, e.g. Adam(model)")
    return optimizer


def _backward(model, grad, clip_hidden, omega):
    """The model's backward, with the options given passed to its
    recurrent layers."""
    kwargs = {}
    if clip_hidden is not None:
        kwargs["clip_hidden"] = clip_hidden
    if omega:
        kwargs["omega"] = omega
    model.backward(grad, **kwargs)


def _model_dtype(model):
    for p in model.params.values():
        return np.dtype(p.dtype)
    raise ValueError("model has no parameters")
