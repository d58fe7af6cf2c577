"""Find the thread-count functions of the BLAS that SciPy's ``cython_blas``
calls, so the time loops can run the per-step products of small layers
single-threaded.

The switch itself is C (``csrc/common/fr_blas_threads.c``): it runs inside
the loops, without the GIL, once per sweep, so it needs the raw addresses of
the BLAS's ``set_num_threads``/``get_num_threads``; threadpoolctl, which works
at the Python level, cannot be called there. It serves to *find* the library:
with threadpoolctl installed (optional) its list of loaded BLAS libraries
says where SciPy's OpenBLAS is; without it, SciPy's bundled OpenBLAS
(``scipy.libs/libscipy_openblas*``) is looked for by file name. Only
OpenBLAS is supported; with any other BLAS `FUNCTIONS` is None and the loops
leave the thread count alone.

This module depends on nothing else of fastrnn; the loops that use the
functions (``fastrnn.layers._recurrent``) install them when imported.
"""
import contextlib
import ctypes
import glob
import os

import scipy
import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS to be found)

# Names of the setter and getter, with the prefix of SciPy's own build first.
_NAMES = [("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads", "openblas_get_num_threads")]


def _is_ilp64(path):
    """NumPy's OpenBLAS (64-bit integers, symbols suffixed ``64_``) is loaded
    too, but cython_blas calls SciPy's LP64 build."""
    return "64_" in os.path.basename(path)


def _candidate_paths():
    """Paths of the loaded OpenBLAS libraries that may be SciPy's."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        libdir = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
        paths = sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*")))
    else:
        paths = [lib.filepath for lib in ThreadpoolController().lib_controllers
                 if lib.internal_api == "openblas" and lib.filepath]
    return [p for p in paths if not _is_ilp64(p)]


def _find():
    """(set_address, get_address) of SciPy's OpenBLAS, or None."""
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            setter = getattr(lib, set_name, None)
            getter = getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                return (ctypes.cast(setter, ctypes.c_void_p).value,
                        ctypes.cast(getter, ctypes.c_void_p).value)
    return None


#: (set_num_threads, get_num_threads) as C function addresses, or None.
FUNCTIONS = _find()
#: Whether the loops can switch the BLAS's thread count.
AVAILABLE = FUNCTIONS is not None


@contextlib.contextmanager
def single_blas_thread():
    """SciPy's OpenBLAS on one thread inside the block (where it can be
    switched), its thread count restored after. fastrnn's ridge fit runs its
    products and its Cholesky of Gram matrices of 1 GiB and more so: their
    multithreaded OpenBLAS GEMM, SYRK and POTRF were seen to crash (16,000 and
    20,000 units, 2 threads), while one thread computes them. It changes the
    setting process-wide for the block's duration."""
    if FUNCTIONS is None:
        yield
        return
    setter = ctypes.CFUNCTYPE(None, ctypes.c_int)(FUNCTIONS[0])
    getter = ctypes.CFUNCTYPE(ctypes.c_int)(FUNCTIONS[1])
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)
