# cython: language_level=3
"""The time loop of the echo state network reservoir (Jaeger 2001;
Lukoševičius 2012; Goodfellow et al. (2016), sec. 10.8).

`run` is the one entry point: it reads the weights and buffers into the two
structs of ``fr_reservoir.h`` and makes one C call (``fr_res_run``, in
csrc/reservoir/fr_reservoir_impl.h) that runs all T steps of B series
without the GIL:

1. the pre-activations of every step, Win u_t + bias, are one product
   (T*B x D) @ (D x N) added onto ``states``, which the caller filled with
   the bias (and noise);
2. each step then adds W x_{t-1} (a CSR product written for the reservoir's
   sparsity, its rows optionally shared by two threads, or one BLAS
   GEMV/GEMM for a dense W), in the closed loop also Wfb y_{t-1}, applies
   the leaky update, and (closed loop) the readout y_t = Wout^T x_t + offset.

Teacher-forced outputs are inputs like any other (the caller appends them to
u and Wfb to Win), so the open and the teacher-forced loop are one loop.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv

import numpy as np

from fastrnn.reservoir.kernels cimport (
    FR_RES_FETCH_AUTO, FR_RES_FETCH_GATHER, FR_RES_FETCH_LOADS, FR_RES_IDENTITY, FR_RES_RELU,
    FR_RES_SIGMOID, FR_RES_SMALL_INPUT, FR_RES_TANH, fr_res_gathers_pay, fr_res_install_blas,
    fr_res_model, fr_res_run, fr_res_series, load_weights,
)

#: The activation codes of the C loop by name: the one table, whose numbers
#: are the enum of fr_reservoir.h.
ACTIVATION_CODES = {"tanh": FR_RES_TANH, "sigmoid": FR_RES_SIGMOID, "relu": FR_RES_RELU,
                    "identity": FR_RES_IDENTITY}

#: Up to this many inputs (feedback included) the input projection is
#: computed row by row, so that splitting a series into calls does not
#: change it; above, one BLAS GEMM.
SMALL_INPUT = FR_RES_SMALL_INPUT

#: How the steps of one series fetch the entries of x_{t-1} a row of W
#: needs: "auto" (the faster way on this CPU, measured once), hardware
#: "gather"s or plain "loads". The states are the same bits either way.
FETCH_CODES = {"auto": FR_RES_FETCH_AUTO, "gather": FR_RES_FETCH_GATHER,
               "loads": FR_RES_FETCH_LOADS}


def gathers_pay():
    """Whether this CPU's hardware gathers fetch a row's entries of x faster
    than plain loads (measured once per process; False without AVX2)."""
    return bool(fr_res_gathers_pay())


# SciPy's BLAS, the routines fastrnn/_core/blas.pxd wraps, handed to C once.
fr_res_install_blas(sgemv, dgemv, sgemm, dgemm)


cdef Py_ssize_t _row_stride(const Py_ssize_t *strides, const Py_ssize_t *shape,
                            Py_ssize_t itemsize) noexcept:
    """The distance in elements from one row (t, b) of a (T, B, F) array to
    the next, or -1 unless each row is contiguous and the rows are evenly
    spaced (a C-contiguous array, or consecutive columns of one), the layout
    the C loop reads and writes."""
    cdef Py_ssize_t row
    if shape[1] > 1:
        row = strides[1]
    elif shape[0] > 1:
        row = strides[0]
    else:
        row = shape[2] * itemsize
    if ((shape[2] > 1 and strides[2] != itemsize) or row % itemsize != 0
            or row < shape[2] * itemsize
            or (shape[0] > 1 and shape[1] > 1 and strides[0] != shape[1] * row)):
        return -1
    return row // itemsize


cdef Py_ssize_t _checked_row_stride(const Py_ssize_t *strides, const Py_ssize_t *shape,
                                    Py_ssize_t itemsize, name) except -1:
    cdef Py_ssize_t row = _row_stride(strides, shape, itemsize)
    if row < 0:
        raise ValueError(f"{name} must have contiguous, evenly spaced rows; got strides "
                         f"{tuple(strides[i] for i in range(3))} for shape "
                         f"{tuple(shape[i] for i in range(3))}")
    return row


def run(weights, const floating[:, :, :] u, floating[:, ::1] state,
        floating[:, :, :] states, closed_loop=None, int nthreads=1, bint prefilled=True,
        fetch="auto"):
    """Run the reservoir over T steps of B series.

    The arrays are trusted: `fastrnn.Reservoir` checks and lays them out.

    Parameters
    ----------
    weights : LoopWeights (fastrnn/reservoir/reservoir.py), IN
        ``activation`` (a code of ACTIVATION_CODES); W as CSR (``w_data``,
        ``w_indices``, ``w_indptr``, int32) or ``w_dense`` (N, N) (then the
        CSR fields are None); ``w_in`` (N, D) and ``w_in_t`` (D, N); ``leak``
        (N * B,), each unit's leak rate repeated B times (unit-major).
    u : (T, B, D), IN
        Inputs, teacher-forced outputs appended. Its rows (t, b) may be
        further apart than D (columns of a wider array: the states of
        another reservoir in a shared buffer), evenly, each row contiguous.
    state : (N, B), IN/OUT
        x_0 transposed on entry, x_T on exit.
    states : (T, B, N), IN/OUT
        Bias (+ noise) on entry when ``prefilled``, the states x_1 .. x_T on
        exit. Laid out
        like ``u``: rows evenly apart, each contiguous, so that a reservoir
        can write into its columns of a buffer shared with others.
    closed_loop : ClosedLoop or None, IN/OUT
        The readout's output fed back (free run): ``w_fb`` (N, O) and
        ``w_out`` (N, O), IN; ``y`` (T, B, O), the readout's intercept and
        input part on entry, the outputs y_1 .. y_T on exit; ``y_state``
        (O, B), y_0 transposed on entry, y_T on exit.
    nthreads : int, IN
        Threads sharing the rows of a sparse W in the open loop (1 or 2).
    prefilled : bool, IN
        False: ``states`` holds nothing on entry, and each step computes
        bias + Win u_t itself (the same sums in the same order), in the pass
        that updates its units; for the open loop with at most
        ``SMALL_INPUT`` inputs only.
    fetch : str, IN
        A key of ``FETCH_CODES``: how one series' steps fetch x_{t-1}
        (tests take each way; the states are the same).

    Returns
    -------
    int
        The number of threads used.
    """
    cdef fr_res_model model
    cdef fr_res_series series
    cdef const floating[:, ::1] w_fb
    cdef const floating[:, ::1] w_out
    cdef floating[:, :, ::1] y
    cdef floating[:, ::1] y_state
    cdef floating[::1] work
    cdef Py_ssize_t N = state.shape[0], B = state.shape[1], O = 0
    cdef int used

    if u.shape[0] == 0 or B == 0:
        return 1
    load_weights(&model, weights, u.shape[2], state)
    series.steps = u.shape[0]
    series.batch = B
    if not prefilled and (closed_loop is not None or u.shape[2] > SMALL_INPUT):
        raise ValueError("only the open loop with at most SMALL_INPUT inputs computes "
                         "its pre-activations per step")
    series.prefilled = prefilled
    if fetch not in FETCH_CODES:
        raise ValueError(f"fetch must be one of {sorted(FETCH_CODES)}, got {fetch!r}")
    series.fetch = FETCH_CODES[fetch]
    series.u_stride = _checked_row_stride(&u.strides[0], &u.shape[0], sizeof(floating), "u")
    series.states_stride = _checked_row_stride(&states.strides[0], &states.shape[0],
                                               sizeof(floating), "states")
    series.u = NULL
    series.y = NULL
    series.y_state = NULL
    if model.inputs > 0:
        series.u = &u[0, 0, 0]
    series.states = &states[0, 0, 0]
    series.state = &state[0, 0]
    if closed_loop is not None:
        w_fb, w_out = closed_loop.w_fb, closed_loop.w_out
        y, y_state = closed_loop.y, closed_loop.y_state
        O = w_out.shape[1]
        model.w_fb = &w_fb[0, 0]
        model.w_out = &w_out[0, 0]
        series.y = &y[0, 0, 0]
        series.y_state = &y_state[0, 0]
    model.outputs = O
    work = np.empty((2 * N + O) * B, dtype=np.float32 if floating is float else np.float64)
    series.work = &work[0]
    with nogil:
        used = fr_res_run(&model, &series, nthreads)
    return used
