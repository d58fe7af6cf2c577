"""Find OpenBLAS's thread-count functions in the BLAS SciPy loaded, so the
time loops can run the per-step products of small layers single-threaded
(see `_recurrent.set_blas_thread_control`).

Only SciPy's bundled OpenBLAS (``scipy.libs/libscipy_openblas*``) is looked
for; with any other BLAS nothing is installed and the loops leave the thread
count alone.
"""
import ctypes
import glob
import os

import scipy

from fastrnn.layers import _recurrent

_NAMES = [("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads", "openblas_get_num_threads")]


def _find():
    libdir = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*"))):
        if "64_" in os.path.basename(path):
            continue  # the ILP64 build is NumPy's, not the one cython_blas calls
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


def install():
    """Hand the functions to the time loops; returns True if found."""
    found = _find()
    if found is None:
        return False
    _recurrent.set_blas_thread_control(*found)
    return True


AVAILABLE = install()
