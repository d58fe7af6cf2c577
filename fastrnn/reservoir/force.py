"""FORCE learning (Sussillo & Abbott 2009): an echo state network trained
online with its own output fed back.

Teacher forcing (`fastrnn.ESN` with ``feedback=True``) feeds the target back
while the readout is fitted, so that the closed loop meets, after training,
outputs it never saw. FORCE instead runs the network closed-loop from the
start and keeps the output close to the target by updating the readout with
recursive least squares at every step (or every ``update_every`` steps), so
that the errors fed back are small from the first steps on (Sussillo &
Abbott 2009, eqs. 4-5):

    x_t = (1 - lr) x_{t-1} + lr f(W x_{t-1} + Win u_t + Wfb z_{t-1} + b)
    z_t = w_{t-1}^T r_t,        r_t = x_t (or [x_t; 1] with ``fit_bias``)
    e_t = z_t - y_t             (the error before the update)
    P_t = P_{t-1} - P_{t-1} r_t r_t^T P_{t-1} / (1 + r_t^T P_{t-1} r_t)
    w_t = w_{t-1} - e_t P_t r_t,   P_0 = I / alpha

(with forgetting factor lambda = 1; the general form is RLS's, Haykin (2002),
table 9.1). The whole training sequence is one compiled call
(``fastrnn/reservoir/_force.pyx``): the C reservoir loop between updates and
the RLS step of `fastrnn.RLS`, without the GIL.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import check_int
from fastrnn.io import format as io_format
from fastrnn.reservoir import _force
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import RLS
from fastrnn.reservoir.reservoir import Reservoir, _check_loop_sizes


class FORCE(ESN):
    """An echo state network with output feedback trained by FORCE learning
    (Sussillo & Abbott 2009).

    ``fit`` runs the network on its own fed-back output and updates an RLS
    readout from the error of each output before the update; afterwards
    ``generate``, ``predict`` and ``run`` are those of `fastrnn.ESN` with
    ``feedback=True`` (the closed loop of the learned readout).

    Parameters
    ----------
    reservoir : fastrnn.Reservoir
        Its Wfb (drawn with ``fb_scaling`` on first use) carries the output
        back; Sussillo & Abbott's networks are chaotic (sr about 1.5) with
        feedback of order 1.
    alpha : float > 0
        P starts at I / alpha: the learning rate of the first updates
        (Sussillo & Abbott's alpha, 1 to 100 in their networks).
    forgetting : float in (0, 1]
        RLS's forgetting factor lambda (1: none, as in Sussillo & Abbott).
    update_every : int >= 1
        Steps between two updates (Sussillo & Abbott update every step of
        their fastest runs, every few in slower ones).
    fit_bias : bool
        Learn a bias of the output too (a constant feature 1); Sussillo &
        Abbott's readout has none.

    Attributes
    ----------
    readout : fastrnn.RLS
        Its ``coef_`` and ``intercept_`` are the learned weights; its state
        (P) continues in ``partial_fit``.
    train_outputs_ : ndarray (T, O) or (T,)
        The network's outputs z_t during the last ``fit``/``partial_fit``
        call, each before its update.

    Notes
    -----
    One stream: X is (T, D) or None (no inputs), Y is (T, O) or (T,);
    ``partial_fit`` continues it (the reservoir state, the last output, the
    readout and the phase of the updates).
    """

    def __init__(self, reservoir: Reservoir, *, alpha: float = 1.0, forgetting: float = 1.0,
                 update_every: int = 1, fit_bias: bool = False) -> None:
        super().__init__(reservoir, RLS(alpha, forgetting, fit_bias=fit_bias,
                                        dtype=reservoir.dtype), feedback=True)
        self.update_every = check_int(update_every, "update_every", minimum=1)
        self._phase = 0

    def fit(self, X: Optional[ArrayLike], Y: ArrayLike, warmup: int = 0) -> FORCE:
        """Train from fresh readout weights (w = 0, P = I / alpha).

        Parameters
        ----------
        X : array_like (T, D), or None (no inputs)
        Y : array_like (T, O) or (T,)
            The target of the network's output at each step.
        warmup : int >= 0
            Steps at the start run closed-loop without updates (in
            ``partial_fit``: the first steps of that call).
        """
        self.readout.reset()
        self._phase = 0
        return self.partial_fit(X, Y, warmup=warmup)

    def partial_fit(self, X: Optional[ArrayLike], Y: ArrayLike, warmup: int = 0) -> FORCE:
        """Continue training from the current readout weights, P and state
        (one stream with the calls before: a long series may be given in
        pieces, and several series one after another)."""
        warmup = check_int(warmup, "warmup", minimum=0)
        if isinstance(X, (list, tuple)) or isinstance(Y, (list, tuple)):
            raise TypeError("FORCE trains on one stream: give one series (arrays) per call, "
                            "and call partial_fit for each further series")
        self._train_series(X, Y, warmup)
        return self

    def _train_series(self, X, Y, warmup):
        y_arr = np.asarray(Y)
        u, unbatched = self._inputs(X, T=y_arr.shape[0] if y_arr.ndim else None)
        if not unbatched:
            raise ValueError(f"FORCE trains one series at a time: X must be (T, D), got "
                             f"shape {u.shape}; call partial_fit for each further series")
        T, _, D = u.shape
        targets, single = self._targets(Y, T, 1)
        O = targets.shape[2]
        N = self.reservoir.units
        _check_loop_sizes(T, 1, N, D + O)
        readout = self.readout
        if not isinstance(readout, RLS) or readout.dtype != self.dtype:
            raise TypeError(f"the readout of a FORCE network must be a fastrnn.RLS of dtype "
                            f"{self.dtype}, got {readout!r}")
        if readout._widths is None:
            readout._start(N, O)
            readout._widths, readout._single = (N, O), single
        elif readout._widths != (N, O):
            raise ValueError(f"Y must keep the {readout._widths[1]} outputs the readout was "
                             f"trained on, got {O}")
        # The loop updates P and the weights in place: they must be what it
        # reads (a readout's arrays may have been replaced since).
        F = N + int(readout.fit_bias)
        for name, shape in (("_P", (F, F)), ("_W", (F, O))):
            a = getattr(readout, name)
            if not (isinstance(a, np.ndarray) and a.shape == shape and a.dtype == self.dtype
                    and a.flags.c_contiguous and a.flags.writeable):
                raise ValueError(f"the readout's state {name[1:]} must be a writeable "
                                 f"C-contiguous {self.dtype} array of shape {shape}")
        self._single, self._n_outputs = single, O
        res = self.reservoir
        weights = res._checked_weights(D, O)
        state = res._initial_state(None, 1)
        states = res._pre_activations(T, 1, weights["bias"])
        outputs = np.empty((T, 1, O), dtype=self.dtype)
        y_state = np.array(self._previous_outputs(1, O).T, order="C", copy=True)
        self._phase = _force.force_train(
            res._loop_weights(weights, weights["win"], 1), weights["wfb"],
            np.ascontiguousarray(u), state, states, outputs, y_state,
            np.ascontiguousarray(targets[:, 0]), readout._P, readout._W,
            readout.forgetting, self.update_every, self._phase, warmup)
        readout.n_samples_seen_ += T
        readout._publish()
        res.state = state[:, 0].copy()
        if T:
            self._y_last = np.ascontiguousarray(y_state.T)
        self.train_outputs_ = self._output(outputs, True)

    def __repr__(self) -> str:
        ro = self.readout
        return (f"FORCE({self.reservoir!r}, alpha={ro.alpha}, forgetting={ro.forgetting}, "
                f"update_every={self.update_every}, fit_bias={ro.fit_bias})")

    # -- persistence (fastrnn.io) --
    # An ESN's parts (the RLS readout with P, so that training resumes
    # exactly), plus the update period and where in it the stream stopped.
    def _save_config(self):
        config = super()._save_config()
        config.update(update_every=self.update_every, phase=self._phase)
        return config

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: dict[str, Any]) -> FORCE:
        config = dict(config)
        update_every = io_format.config_int(config, "update_every")
        phase = io_format.config_int(config, "phase", minimum=0, maximum=update_every - 1)
        net = ESN._from_saved.__func__(ESN, config, arrays)
        if not isinstance(net.readout, RLS) or not net.feedback or net.input_to_readout:
            raise ValueError("a FORCE network has an RLS readout and output feedback, and "
                             "no input-to-readout connection")
        m = cls(net.reservoir, alpha=net.readout.alpha, forgetting=net.readout.forgetting,
                update_every=update_every, fit_bias=net.readout.fit_bias)
        m.readout = net.readout
        m._set_output_layout(*net._output_layout())
        m._set_loop_state(*net._loop_state())
        m._phase = phase
        return m


io_format.register("FORCE", FORCE)
