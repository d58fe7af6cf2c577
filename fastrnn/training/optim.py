"""Optimisers: SGD with (Nesterov) momentum and Adam, with gradient clipping.

Each ``step()`` first clips the gradients as Goodfellow et al. (2016), sec. 10.7.7,
describes (element-wise, then the joint norm of eq. 10.15, with a random step
of norm ``clip_norm`` when the gradient is NaN or Inf), then updates every
parameter array in one pass of a fused C kernel (csrc/training/fr_optim_impl.h). The
update rules are PyTorch's, so runs can be compared step for step.

The optimiser takes the models whose ``params`` and ``grads`` dicts it should
update (or explicit ``(param, grad)`` pairs); it updates the arrays in place,
so the models see the new values without copying.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Protocol, Sequence, Union

import numpy as np

from fastrnn.training import _optim
from fastrnn.training.clip import clip_grad_norm, clip_grad_value, global_norm
from fastrnn._core.validation import (
    FLOAT_DTYPES,
    as_float_array,
    check_bool,
    check_finite,
    check_int,
    check_random_state,
    check_real,
)
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format


class Parametrised(Protocol):
    """What an optimiser updates: an object with ``params`` and ``grads``,
    mappings from the same names to arrays of the same shapes (every fastrnn
    layer, `fastrnn.Sequential`)."""

    @property
    def params(self) -> Mapping[str, np.ndarray]: ...

    @property
    def grads(self) -> Mapping[str, np.ndarray]: ...


#: What an optimiser takes: a model, or a list of models or of (param, grad) pairs.
ModelsLike = Union[Parametrised, Sequence[Union[Parametrised, tuple[np.ndarray, np.ndarray]]]]


def _collect_pairs(models):
    if hasattr(models, "params") and hasattr(models, "grads"):
        models = [models]
    elif isinstance(models, (str, bytes, np.ndarray)) or not hasattr(models, "__iter__"):
        raise TypeError(f"models must be a model (with .params and .grads dicts), a list of "
                        f"models or of (param, grad) pairs, got {type(models).__name__}")
    pairs = []
    for i, item in enumerate(models):
        if hasattr(item, "params") and hasattr(item, "grads"):
            params, grads = item.params, item.grads
            if not isinstance(params, Mapping) or not isinstance(grads, Mapping) \
                    or set(params) != set(grads):
                raise TypeError(f"models[{i}].params and .grads must be mappings with the same "
                                f"keys, got {type(params).__name__} and "
                                f"{type(grads).__name__}")
            for key, p in params.items():
                pairs.append((p, grads[key]))
        elif isinstance(item, tuple) and len(item) == 2:
            pairs.append(item)
        else:
            raise TypeError(
                f"models[{i}] must have .params and .grads dicts or be a (param, grad) "
                f"pair, got {type(item).__name__}"
            )
    for i, (p, g) in enumerate(pairs):
        for what, a in (("param", p), ("grad", g)):
            if not isinstance(a, np.ndarray) or a.dtype not in FLOAT_DTYPES:
                raise TypeError(f"{what} {i} must be a float32 or float64 numpy array")
            if not a.flags.c_contiguous or not a.flags.writeable:
                raise ValueError(f"{what} {i} must be C-contiguous and writeable")
        if p.shape != g.shape or p.dtype != g.dtype:
            raise ValueError(
                f"param {i} and its grad differ: {p.shape} {p.dtype} vs {g.shape} {g.dtype}"
            )
    if not pairs:
        raise ValueError("models holds no parameters to optimise")
    return pairs


class Optimizer:
    """Common part: parameter collection, clipping, zero_grad and state.

    Parameters
    ----------
    models : model, list of models, or list of (param, grad) pairs
        A model is anything with ``params`` and ``grads`` dicts of arrays.
    clip_norm : float or None
        Joint norm threshold v of eq. 10.15 (and the size of the random step
        taken when the gradient is not finite).
    clip_value : float or None
        Element-wise clipping threshold, applied before the norm clipping.
    seed : None, int or numpy.random.Generator
        Source of the random steps.
    """

    def __init__(self, models: ModelsLike, *, clip_norm: Optional[float] = None,
                 clip_value: Optional[float] = None, seed: SeedLike = None) -> None:
        self._pairs = _collect_pairs(models)
        self.clip_norm = check_real(clip_norm, "clip_norm", low=0.0, low_open=True,
                                    allow_none=True)
        self.clip_value = check_real(clip_value, "clip_value", low=0.0, low_open=True,
                                     allow_none=True)
        self._rng = check_random_state(seed)
        self.steps = 0
        self.last_grad_norm = None
        self.random_steps = 0

    @property
    def params(self) -> list[np.ndarray]:
        return [p for p, _ in self._pairs]

    @property
    def grads(self) -> list[np.ndarray]:
        return [g for _, g in self._pairs]

    def zero_grad(self) -> None:
        for _, g in self._pairs:
            g.fill(0)

    def _clip(self):
        grads = self.grads
        if self.clip_value is not None:
            clip_grad_value(grads, self.clip_value)
        if self.clip_norm is not None:
            norm = clip_grad_norm(grads, self.clip_norm, seed=self._rng)
            if not np.isfinite(norm):
                self.random_steps += 1
        else:
            norm = global_norm(grads)
        self.last_grad_norm = norm
        return norm

    def step(self) -> float:
        """Clip, then update every parameter in place. Returns the gradient
        norm before clipping."""
        norm = self._clip()
        self.steps += 1
        for i, (p, g) in enumerate(self._pairs):
            self._update(i, p.reshape(-1), g.reshape(-1))
        return norm

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as arrays and numbers (for resuming training)."""
        return {"steps": self.steps, "buffers": [b.copy() for b in self._buffers()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned. Everything is checked
        (keys, step count, number, shapes and values of the buffers) before
        anything changes."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got "
                            f"{type(state).__name__}")
        missing = [k for k in ("steps", "buffers") if k not in state]
        if missing:
            raise ValueError(f"state lacks the key(s) {missing}: not a state_dict() of an "
                             "optimiser")
        steps = check_int(state["steps"], "state['steps']", minimum=0)
        buffers = self._buffers()
        saved = state["buffers"]
        if not isinstance(saved, (list, tuple)):
            raise TypeError(f"state['buffers'] must be a list of arrays, got "
                            f"{type(saved).__name__}")
        if len(saved) != len(buffers):
            raise ValueError(f"state has {len(saved)} buffers, the optimiser {len(buffers)}")
        new = []
        for i, (b, s) in enumerate(zip(buffers, saved)):
            name = f"state['buffers'][{i}]"
            s = np.asarray(s) if isinstance(s, (list, tuple)) else s
            if np.shape(s) != b.shape:
                raise ValueError(f"{name} must have shape {b.shape}, got {np.shape(s)}")
            new.append(check_finite(as_float_array(s, name, b.dtype), name))
        for b, s in zip(buffers, new):
            b[...] = s
        self.steps = steps

    # -- persistence (fastrnn.io) --
    # An optimiser refers to the arrays of the model it updates: its file
    # holds the hyperparameters, step counts, random generator and buffers,
    # and is loaded against the model, load(path, model=...).
    #: The constructor arguments a file stores, beside the clipping thresholds.
    _saved_hyperparameters: tuple[str, ...] = ()

    def _save_config(self) -> dict[str, Any]:
        config = {k: getattr(self, k)
                  for k in self._saved_hyperparameters + ("clip_norm", "clip_value")}
        config.update(steps=self.steps, random_steps=self.random_steps,
                      rng=io_format.rng_state(self._rng))
        return config

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return {f"buffer{i}": b for i, b in enumerate(self._buffers())}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any],
                    model: ModelsLike) -> Optimizer:
        """The optimiser of ``model`` saved in ``config`` and ``arrays``; the
        buffers must match those of ``model``'s parameters exactly."""
        config = dict(config)
        steps, random_steps = config.pop("steps"), config.pop("random_steps")
        rng = config.pop("rng")
        opt = cls(model, **config)
        buffers = opt._buffers()
        if len(arrays) != len(buffers):
            raise ValueError(f"the file holds {len(arrays)} buffers, the optimiser of "
                             f"this model {len(buffers)}: not the model it was saved with")
        for i, b in enumerate(buffers):
            b[...] = io_format.expect_array(arrays, f"buffer{i}", b.shape, b.dtype, cls.__name__)
        opt.steps = io_format.config_count({"steps": steps}, "steps")
        opt.random_steps = io_format.config_count({"random_steps": random_steps},
                                                  "random_steps")
        opt._rng = io_format.rng_from_state(rng)
        return opt


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    The momentum methods of Goodfellow et al. (2016), sec. 10.7.6 (Sutskever et al. 2013),
    written as ``torch.optim.SGD`` does with dampening 0:
    ``buf = mu * buf + g``, ``p -= lr * buf`` (or ``lr * (g + mu * buf)``
    with ``nesterov=True``).
    """

    def __init__(self, models: ModelsLike, lr: float, *, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, **clip_kwargs: Any) -> None:
        super().__init__(models, **clip_kwargs)
        self.lr = check_real(lr, "lr", low=0.0, low_open=True)
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self._momentum_buffers = [
            np.zeros(p.size if self.momentum else 0, dtype=p.dtype) for p in self.params
        ]

    def _buffers(self):
        return self._momentum_buffers

    def _update(self, i, p, g):
        _optim.sgd_step(p, g, self._momentum_buffers[i], self.lr, self.momentum,
                        self.nesterov, self.weight_decay, self.steps == 1)

    # -- persistence (fastrnn.io) --
    _saved_hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")


io_format.register("SGD", SGD, needs_model=True)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam`` computes it."""

    def __init__(self, models: ModelsLike, lr: float = 1e-3, *,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, **clip_kwargs: Any) -> None:
        super().__init__(models, **clip_kwargs)
        self.lr = check_real(lr, "lr", low=0.0, low_open=True)
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {type(betas).__name__}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {len(betas)} values")
        self.betas = (check_real(betas[0], "betas[0]", low=0.0, high=1.0, high_open=True),
                      check_real(betas[1], "betas[1]", low=0.0, high=1.0, high_open=True))
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
        self._m = [np.zeros(p.size, dtype=p.dtype) for p in self.params]
        self._v = [np.zeros(p.size, dtype=p.dtype) for p in self.params]

    def _buffers(self):
        return self._m + self._v

    def _update(self, i, p, g):
        b1, b2 = self.betas
        bc1 = 1.0 - b1 ** self.steps
        sqrt_bc2 = (1.0 - b2 ** self.steps) ** 0.5
        _optim.adam_step(p, g, self._m[i], self._v[i], self.lr, b1, b2, self.eps, bc1,
                         sqrt_bc2, self.weight_decay)

    # -- persistence (fastrnn.io) --
    _saved_hyperparameters = ("lr", "betas", "eps", "weight_decay")


io_format.register("Adam", Adam, needs_model=True)
