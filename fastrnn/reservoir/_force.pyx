# cython: language_level=3
"""The FORCE learning loop (Sussillo & Abbott 2009): a reservoir whose own
output is fed back while a recursive-least-squares readout learns, in one
call per sequence.

The reservoir runs closed-loop in blocks of ``update_every`` steps, each
block one call of the C reservoir loop (``fr_res_run`` of
csrc/reservoir/fr_reservoir.h, which computes the readout's output after
every step and feeds it back); after each block the RLS step of
``fastrnn/reservoir/_rls.pxd`` updates the readout from the last state of
the block and its target. Nothing between two updates takes the GIL.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv

import numpy as np

from fastrnn.reservoir.kernels cimport (
    FR_RES_FETCH_AUTO, fr_res_install_blas, fr_res_model, fr_res_run, fr_res_series, load_weights,
)
from fastrnn.reservoir._rls cimport rls_step

# This module links its own copy of the C reservoir loop, which calls BLAS
# through pointers set once per module.
fr_res_install_blas(sgemv, dgemv, sgemm, dgemm)


def force_train(weights, const floating[:, ::1] w_fb, const floating[:, :, ::1] u,
                floating[:, ::1] state, floating[:, :, ::1] states,
                floating[:, :, ::1] outputs, floating[:, ::1] y_state,
                const floating[:, ::1] targets, floating[:, ::1] p, floating[:, ::1] w,
                double forgetting, int update_every, int phase, Py_ssize_t first_update):
    """Run T closed-loop steps of one series, updating the readout by RLS.

    At step t the reservoir takes z_{t-1}, the readout's previous output,
    through Wfb; then z_t = w^T [x_t (; 1)] with the current weights; and
    when ``phase`` reaches ``update_every`` (and t >= ``first_update``) the
    weights and P take one RLS step on the features of x_t and the target
    ``targets[t]``, from the error of z_t before the update (Sussillo &
    Abbott 2009, eqs. 4-5). The arrays are trusted: `fastrnn.FORCE` checks
    and lays them out.

    Parameters
    ----------
    weights : LoopWeights (fastrnn/reservoir/reservoir.py), IN
        The reservoir for one series (B = 1).
    w_fb : (N, O), IN
    u : (T, 1, D), IN
    state : (N, 1), IN/OUT
        x_0 on entry, x_T on exit.
    states : (T, 1, N), IN/OUT
        Bias (+ noise) on entry, x_1 .. x_T on exit.
    outputs : (T, 1, O), OUT
        z_1 .. z_T, each computed before its step's update.
    y_state : (O, 1), IN/OUT
        z_0 on entry, z_T on exit.
    targets : (T, O), IN
    p : (F, F), IN/OUT
        RLS's inverse correlation matrix (upper triangle), F = N, or N + 1
        with a bias feature (the constant 1 after the state).
    w : (F, O), IN/OUT
        The readout weights; the bias is the last row when F = N + 1.
    forgetting : float in (0, 1], IN
    update_every : int >= 1, IN
    phase : int in [0, update_every), IN
        Steps already run since the last update (a stream's continuation).
    first_update : int, IN
        No update before this step (the warm-up).

    Returns
    -------
    int
        The phase after the last step.
    """
    cdef fr_res_model model
    cdef fr_res_series series
    cdef Py_ssize_t T = u.shape[0], N = state.shape[0], O = w.shape[1], F = w.shape[0]
    cdef Py_ssize_t t = 0, s, block, i, o
    cdef bint has_bias = F == N + 1
    cdef floating[::1] work, features, p_x, error
    if T == 0:
        return phase
    dtype = np.float32 if floating is float else np.float64
    load_weights(&model, weights, u.shape[2], state)
    model.outputs = O
    model.w_fb = &w_fb[0, 0]
    model.w_out = &w[0, 0]   # its first N rows: the weights on the state
    work = np.empty(2 * N + O, dtype=dtype)
    features = np.ones(F, dtype=dtype)
    p_x = np.empty(F, dtype=dtype)
    error = np.empty(O, dtype=dtype)
    series.batch = 1
    series.prefilled = 1
    series.fetch = FR_RES_FETCH_AUTO
    series.u_stride = u.shape[2]
    series.states_stride = N
    series.work = &work[0]
    series.y_state = &y_state[0, 0]
    series.state = &state[0, 0]
    with nogil:
        while t < T:
            block = min(<Py_ssize_t> (update_every - phase), T - t)
            # The readout's offset of each step: its bias, as it stands
            # during the block.
            for s in range(t, t + block):
                for o in range(O):
                    outputs[s, 0, o] = w[N, o] if has_bias else 0
            series.steps = block
            series.u = &u[t, 0, 0] if model.inputs > 0 else NULL
            series.states = &states[t, 0, 0]
            series.y = &outputs[t, 0, 0]
            fr_res_run(&model, &series, 1)
            t += block
            phase += <int> block
            if phase == update_every:
                phase = 0
                if t - 1 >= first_update:
                    for i in range(N):
                        features[i] = states[t - 1, 0, i]
                    rls_step(<int> F, <int> O, &features[0], &targets[t - 1, 0], &p[0, 0],
                             &w[0, 0], &p_x[0], &error[0], forgetting)
    return phase
