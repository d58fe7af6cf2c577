"""Echo state network: a fixed reservoir and a trained linear readout
(Jaeger 2001; Lukoševičius 2012; Goodfellow et al. (2016), sec. 10.8),
optionally with the output fed back into the reservoir (teacher forcing,
Goodfellow et al. (2016), sec. 10.2.1).

With feedback the reservoir runs

    x_t = (1 - lr) x_{t-1} + lr f(W x_{t-1} + Win u_t + Wfb y_{t-1} + b)
    y_t = Wout [x_t (; u_t)] + b_out

During ``fit`` y_{t-1} is the target (teacher forcing), so the states of all
steps are computed in one call and the readout is a linear regression on
them; in ``predict``/``generate`` y_{t-1} is the network's own output, and the
reservoir runs its closed loop (`Reservoir._run_closed_loop`): reservoir and
readout step by step in one C call.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import NotFittedError, as_float_array, check_bool, check_int
from fastrnn.reservoir.readout import LMS, RLS, Ridge, Series
from fastrnn.reservoir.reservoir import Reservoir
from fastrnn.io import format as io_format


class ESN:
    """An echo state network: ``reservoir`` + ``readout``.

    Parameters
    ----------
    reservoir : fastrnn.Reservoir
    readout : fastrnn.Ridge, fastrnn.RLS or fastrnn.LMS
    feedback : bool
        Feed the readout's output back into the reservoir through Wfb.
    input_to_readout : bool
        The readout sees [x_t, u_t] instead of x_t.

    Notes
    -----
    Shapes: X is (T, D), (T, B, D) or a list of (T_i, D); Y is (T, O) (or
    (T,)), (T, B, O) or a list. ``X=None`` is allowed for a reservoir without
    inputs (driven only by its feedback). The reservoir state and the last
    output carry over between calls until ``reset()``; the series of a list
    are independent, each starting from the state at the start of the call.
    """

    def __init__(self, reservoir: Reservoir, readout: Union[Ridge, RLS, LMS], *,
                 feedback: bool = False, input_to_readout: bool = False) -> None:
        if not isinstance(reservoir, Reservoir):
            raise TypeError(f"reservoir must be a fastrnn.Reservoir, got "
                            f"{type(reservoir).__name__}")
        if not isinstance(readout, (Ridge, RLS, LMS)):
            raise TypeError(f"readout must be a fastrnn.Ridge, fastrnn.RLS or fastrnn.LMS, got "
                            f"{type(readout).__name__}")
        self.reservoir = reservoir
        self.readout = readout
        self.feedback = check_bool(feedback, "feedback")
        self.input_to_readout = check_bool(input_to_readout, "input_to_readout")
        self.dtype = reservoir.dtype
        self._y_last = None
        self._n_outputs = None
        self._single = False

    # ------------------------------------------------------------- helpers
    def reset(self) -> ESN:
        """Zero the reservoir state and the last output."""
        self.reservoir.reset()
        self._y_last = None
        return self

    # ---------------------------------------- package-internal (fastrnn.dask)
    def _loop_state(self):
        """(reservoir state, last output or None): where the next call starts,
        as copies (the closed loop overwrites the last output in place)."""
        y = self._y_last
        return self.reservoir.state.copy(), None if y is None else y.copy()

    def _set_loop_state(self, state, y_last):
        """Start the next call from ``state`` and ``y_last`` (copied)."""
        self.reservoir.state = np.array(state, copy=True)
        self._y_last = None if y_last is None else np.array(y_last, copy=True)

    def _output_layout(self):
        """(single, n_outputs): how the fitted targets were shaped."""
        return self._single, self._n_outputs

    def _set_output_layout(self, single, n_outputs):
        self._single, self._n_outputs = single, n_outputs

    def _inputs(self, X, T=None, name="X"):
        """X (or None) -> (T, B, D) float array and the unbatched flag."""
        if X is None:
            if T is None:
                raise ValueError(f"{name} is required")
            D = self.reservoir.input_dim or 0
            if D:
                raise ValueError(f"{name} is required: the reservoir takes {D} inputs")
            return np.zeros((T, 1, 0), dtype=self.dtype), True
        arr = as_float_array(X, name, self.dtype, ndim=(2, 3))
        self.reservoir._check_width(arr, name)
        if arr.ndim == 2:
            return arr[:, None, :], True
        return arr, False

    def _targets(self, Y, T, B, name="Y"):
        arr = as_float_array(Y, name, self.dtype, ndim=(1, 2, 3))
        single = arr.ndim == 1
        if single:
            arr = arr[:, None]
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.shape[:2] != (T, B):
            want = f"({T},) or ({T}, O)" if B == 1 else f"({T}, {B}, O)"
            raise ValueError(f"{name} must have {T} time steps and {B} series like X, i.e. "
                             f"shape {want}, got shape {np.shape(Y)}")
        if arr.shape[2] == 0:
            raise ValueError(f"{name} must have at least one output in its last dimension, "
                             f"got shape {np.shape(Y)}")
        wfb = self.reservoir.Wfb
        if self.feedback and wfb is not None and arr.shape[2] != wfb.shape[1]:
            raise ValueError(f"{name} must have {wfb.shape[1]} outputs (the columns of the "
                             f"reservoir's feedback weights Wfb {wfb.shape}), got shape "
                             f"{np.shape(Y)}")
        return arr, single

    def _previous_outputs(self, B, O, y0=None):
        """y_0 for B series, (B, O): ``y0`` if given, else the last output
        (zeros after reset)."""
        if y0 is not None:
            y = as_float_array(y0, "y0", self.dtype, ndim=(1, 2))
            if y.shape == (O,):
                return np.repeat(y[None, :], B, axis=0)
            if y.shape == (B, O):
                return y
            raise ValueError(f"y0 must have shape ({O},) or ({B}, {O}) for {B} series of "
                             f"{O} outputs, got {y.shape}")
        if self._y_last is None:
            return np.zeros((B, O), dtype=self.dtype)
        y = self._y_last
        if y.shape == (B, O):
            return y
        if y.shape == (1, O):
            return np.repeat(y, B, axis=0)
        raise ValueError(f"the stored last output has shape {y.shape}, not ({B}, {O}); "
                         "call reset() first")

    def _features(self, states, u):
        if self.input_to_readout:
            return np.concatenate([states, u], axis=2)
        return states

    def _teacher_forced_states(self, u, Y, x0=None, y0=None):
        """States (T, B, N) of a teacher-forced run: feedback[t] = Y[t-1],
        from ``x0``/``y0`` (or the stored state and last output)."""
        T, B, O = Y.shape
        fb = None
        if self.feedback:
            fb = np.empty_like(Y)
            if T:
                fb[0] = self._previous_outputs(B, O, y0)
                fb[1:] = Y[:-1]
        if B == 1:
            states = self.reservoir.run(u[:, 0], x0, feedback=None if fb is None else fb[:, 0])
            states = states[:, None]
        else:
            states = self.reservoir.run(u, x0, feedback=fb)
        if T:
            self._y_last = Y[-1].copy()
        return states

    # ----------------------------------------------------------------- fit
    def fit(self, X: Optional[Series], Y: Series, warmup: int = 0) -> ESN:
        """Train the readout (teacher-forced when ``feedback``).

        Parameters
        ----------
        X : array_like (T, D), (T, B, D), a list, or None (no inputs)
        Y : array_like (T, O), (T,), (T, B, O), or a list like X
        warmup : int
            Steps at the start of every series whose states are not used.
        """
        warmup = check_int(warmup, "warmup", minimum=0)
        if isinstance(Y, (list, tuple)):
            if X is None:
                X = [None] * len(Y)
            if not isinstance(X, (list, tuple)) or len(X) != len(Y):
                raise ValueError("X and Y must both be lists of the same length")
            pairs = list(zip(X, Y))
            start_state, start_y = self.reservoir.state.copy(), self._y_last
        else:
            pairs = [(X, Y)]
            start_state = start_y = None
        feats, targets = [], []
        for i, (x, y) in enumerate(pairs):
            if start_state is not None:
                self.reservoir.state = start_state.copy()
                self._y_last = start_y
            features, Yt = self._series_features(x, y, warmup)
            feats.append(features)
            targets.append(Yt)
        self.readout.fit(feats, targets)
        return self

    def _series_features(self, x, y, warmup):
        """The readout's features and targets for one series (or one batch
        of series) after ``warmup`` steps, the reservoir teacher-forced from
        its current state; ``fastrnn.dask`` runs this on its workers
        (package-internal)."""
        y_arr = np.asarray(y)
        u, _ = self._inputs(x, T=y_arr.shape[0] if y_arr.ndim else None)
        T, B = u.shape[:2]
        Yt, single = self._targets(y, T, B)
        if warmup >= T:
            raise ValueError(f"warmup must be < the number of time steps ({T}), got {warmup}")
        self._single = single
        self._n_outputs = Yt.shape[2]
        states = self._teacher_forced_states(u, Yt)
        return self._features(states, u)[warmup:], Yt[warmup:]

    # ------------------------------------------------------------- running
    def _readout_arrays(self, D):
        """The fitted readout's coef (F, O) and intercept (O,), checked
        against this network before any loop runs: F must be the reservoir's
        N units (plus the D inputs with ``input_to_readout``) and, with
        feedback, O the columns of Wfb, or the closed loop would read past
        the readout's weights."""
        ro = self.readout
        if not hasattr(ro, "coef_"):
            raise NotFittedError("the readout is not fitted: call fit first")
        coef = as_float_array(ro.coef_, "readout.coef_", self.dtype, ndim=(1, 2))
        intercept = as_float_array(ro.intercept_, "readout.intercept_", self.dtype,
                                   ndim=(0, 1))
        if coef.ndim == 1:
            coef = coef[:, None]
        N = self.reservoir.units
        F = N + (D if self.input_to_readout else 0)
        O = coef.shape[1]
        if coef.shape[0] != F:
            parts = f"the reservoir's {N} units" + (f" and {D} inputs" if self.input_to_readout
                                                     else "")
            raise ValueError(
                f"the readout takes {coef.shape[0]} features (readout.coef_ has shape "
                f"{np.shape(ro.coef_)}), but this ESN gives it {F} ({parts}); fit the "
                f"readout on these features (esn.fit) first")
        if O == 0:
            raise ValueError(f"the readout has no outputs (readout.coef_ has shape "
                             f"{np.shape(ro.coef_)})")
        intercept = np.atleast_1d(intercept)
        if intercept.shape != (O,):
            raise ValueError(f"readout.intercept_ must have shape ({O},) like the readout's "
                             f"{O} outputs, got {np.shape(ro.intercept_)}")
        wfb = self.reservoir.Wfb
        if self.feedback and wfb is not None and wfb.shape[1] != O:
            raise ValueError(
                f"the readout has {O} outputs but the reservoir feeds back {wfb.shape[1]} "
                f"(Wfb has shape {wfb.shape}); fit the readout on {wfb.shape[1]} outputs")
        return coef, intercept

    def _free_run(self, u, x0=None, y0=None):
        """Closed loop over inputs u (T, B, D) from ``x0``/``y0`` (or the
        stored state and last output), run by the reservoir: returns
        (states, outputs)."""
        T, B, D = u.shape
        coef, intercept = self._readout_arrays(D)
        N, O = self.reservoir.units, coef.shape[1]
        states, y, y_last = self.reservoir._run_closed_loop(
            u, coef[:N], coef[N:] if self.input_to_readout else None, intercept, x0,
            self._previous_outputs(B, O, y0))
        if T:
            self._y_last = y_last
        return states, y

    def _output(self, y, unbatched):
        if unbatched:
            y = y[:, 0]
        if self._single:
            y = y[..., 0]
        return y

    def run(self, X: Optional[Series], *,
            teacher: Optional[Series] = None,
            return_states: bool = False, x0: Optional[ArrayLike] = None,
            y0: Optional[ArrayLike] = None
            ) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray], list[Any]]:
        """Drive the network and return its outputs.

        Without feedback: y_t = readout(x_t). With feedback: closed loop
        (each output fed back), or teacher-forced when ``teacher`` (shaped as
        Y) is given.

        Parameters
        ----------
        X : array_like (T, D), (T, B, D), a list of (T_i, D), or None
            A 3-D X is (time steps, series, features); its last axis must be
            the reservoir's input size.
        teacher : array_like (T, O), (T,), (T, B, O), or a list like X
            Outputs fed back instead of the network's own (feedback only).
        return_states : bool
        x0 : array_like (N,) or (B, N), optional
            Initial reservoir state; the stored state if None.
        y0 : array_like (O,) or (B, O), optional
            The output before the first step (feedback only); the stored
            last output (zeros after ``reset``) if None. Calls that pass x0
            (and y0) do not read the stored state, so threads sharing one
            ESN get the same results as serial calls.

        Returns
        -------
        y : ndarray (T, O), (T,), (T, B, O); and the states (T, [B,] N) if
            ``return_states``.
        """
        if isinstance(X, (list, tuple)):
            if teacher is not None and (not isinstance(teacher, (list, tuple))
                                        or len(teacher) != len(X)):
                raise ValueError("teacher must be a list of the same length as X")
            # Independent series: each starts from the state at this call.
            start_state, start_y = self.reservoir.state.copy(), self._y_last
            results = []
            for i, x in enumerate(X):
                self.reservoir.state = start_state.copy()
                self._y_last = start_y
                results.append(self.run(x, teacher=None if teacher is None else teacher[i],
                                        return_states=return_states, x0=x0, y0=y0))
            return results
        T_hint = None
        if teacher is not None:
            if not self.feedback:
                raise ValueError("teacher is only used with feedback=True")
            teacher = as_float_array(teacher, "teacher", self.dtype, ndim=(1, 2, 3))
            T_hint = teacher.shape[0]
        u, unbatched = self._inputs(X, T=T_hint)
        T, B, D = u.shape
        if self.feedback and teacher is None:
            states, y = self._free_run(u, x0, y0)
        else:
            coef, intercept = self._readout_arrays(D)
            if teacher is not None:
                Yt, _ = self._targets(teacher, T, B, "teacher")
                if Yt.shape[2] != coef.shape[1]:
                    raise ValueError(f"teacher must have {coef.shape[1]} outputs like the "
                                     f"readout, got shape {teacher.shape}")
                states = self._teacher_forced_states(u, Yt, x0, y0)
            else:
                states = self.reservoir.run(u[:, 0], x0)[:, None] if B == 1 else \
                    self.reservoir.run(u, x0)
            y = self._features(states, u) @ coef + intercept
        y = self._output(y, unbatched)
        if return_states:
            return y, (states[:, 0] if unbatched else states)
        return y

    def predict(self, X: Optional[Series], *,
                x0: Optional[ArrayLike] = None, y0: Optional[ArrayLike] = None
                ) -> Union[np.ndarray, list[np.ndarray]]:
        """The outputs for inputs X (closed loop when ``feedback``); ``x0``
        and ``y0`` as in `run`."""
        return self.run(X, x0=x0, y0=y0)

    def generate(self, n_steps: int, *, teacher: Optional[ArrayLike] = None,
                 inputs: Optional[ArrayLike] = None, x0: Optional[ArrayLike] = None,
                 y0: Optional[ArrayLike] = None) -> np.ndarray:
        """Free-run the network for ``n_steps`` with its outputs fed back.

        Parameters
        ----------
        n_steps : int >= 0
        teacher : array_like (T0, O) (or (T0,), (T0, B, O)), optional
            Outputs forced first, from the current state: the network is
            driven with y_{t-1} = teacher[t-1] for T0 steps (a warm-up that
            synchronises the reservoir with the signal).
        inputs : array_like (T0 + n_steps, D) (or batched), optional
            The inputs of all T0 + n_steps steps, if the reservoir has any.
        x0, y0 : array_like, optional
            Initial state and previous output, as in `run`.

        Returns
        -------
        ndarray (n_steps, O) (or as teacher is shaped): the free-run outputs,
        the first predicting the step after the teacher's last.
        """
        if not self.feedback:
            raise ValueError("generate needs an ESN built with feedback=True")
        n_steps = check_int(n_steps, "n_steps", minimum=0)
        t_arr = None
        if teacher is not None:
            t_arr = as_float_array(teacher, "teacher", self.dtype, ndim=(1, 2, 3))
        T0 = 0 if t_arr is None else t_arr.shape[0]
        u, unbatched = self._inputs(inputs, T=T0 + n_steps, name="inputs")
        if u.shape[0] != T0 + n_steps:
            raise ValueError(f"inputs must have len(teacher) + n_steps = {T0 + n_steps} "
                             f"time steps, got {u.shape[0]}")
        if T0:
            t_unbatched = t_arr.ndim < 3
            B = 1 if t_unbatched else t_arr.shape[1]
            if inputs is None and B > 1:
                u = np.zeros((T0 + n_steps, B, 0), dtype=self.dtype)
            # The readout is checked before the warm-up runs.
            coef, _ = self._readout_arrays(u.shape[2])
            Yt, _ = self._targets(t_arr, T0, u.shape[1], "teacher")
            if Yt.shape[2] != coef.shape[1]:
                raise ValueError(f"teacher must have {coef.shape[1]} outputs like the "
                                 f"readout, got shape {t_arr.shape}")
            states = self._teacher_forced_states(np.ascontiguousarray(u[:T0]), Yt, x0, y0)
            # The free run continues from the warm-up's last state and output,
            # taken from this call's results (not from the stored state, which
            # another thread may have replaced meanwhile).
            x0, y0 = states[-1], Yt[-1]
            unbatched = unbatched and t_unbatched
        _, y = self._free_run(np.ascontiguousarray(u[T0:]), x0, y0)
        return self._output(y, unbatched)

    def __repr__(self) -> str:
        return (f"ESN({self.reservoir!r}, {self.readout!r}, feedback={self.feedback}, "
                f"input_to_readout={self.input_to_readout})")

    # -- persistence (fastrnn.io) --
    # The reservoir and the readout as parts, and the last output fed back.
    def _save_config(self):
        return {"reservoir": io_format.part_config(self.reservoir),
                "readout": io_format.part_config(self.readout),
                "feedback": self.feedback, "input_to_readout": self.input_to_readout,
                "n_outputs": self._n_outputs, "single": self._single}

    def _save_arrays(self):
        arrays = io_format.part_arrays(self.reservoir, "reservoir")
        arrays.update(io_format.part_arrays(self.readout, "readout"))
        if self._y_last is not None:
            arrays["y_last"] = self._y_last
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        m = cls(io_format.build_part(config.get("reservoir"), arrays, "reservoir"),
                io_format.build_part(config.get("readout"), arrays, "readout"),
                feedback=config.get("feedback", False),
                input_to_readout=config.get("input_to_readout", False))
        m._n_outputs = (None if config.get("n_outputs") is None
                        else io_format.config_int(config, "n_outputs"))
        m._single = bool(config.get("single"))
        if "y_last" in arrays:
            y = arrays["y_last"]
            if y.dtype != m.dtype or y.ndim not in (1, 2):
                raise ValueError(f"y_last must be a 1-D or 2-D {m.dtype} array")
            m._y_last = y.copy()
        return m


io_format.register("ESN", ESN)
