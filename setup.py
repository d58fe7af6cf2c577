"""Build the Cython extensions of fastrnn.

Every ``fastrnn/**/_*.pyx`` becomes one extension module (``fastrnn/layers/
_recurrent.pyx`` is ``fastrnn.layers._recurrent``). Each is linked with the C
kernels of ``csrc/`` it declares (``csrc/common`` for all; ``csrc/cells``,
``csrc/reservoir``, ``csrc/training`` by role); BLAS is reached at run time through
``scipy.linalg.cython_blas``, so nothing here links a BLAS of its own.
"""
import glob
import os
import platform
import re
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
C_SOURCES = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*", "*.c")))
C_HEADERS = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*", "*.h")))
# The C files include each other by base name, whichever folder they sit in.
C_INCLUDE_DIRS = sorted(os.path.join(HERE, "csrc", d) for d in os.listdir(os.path.join(HERE, "csrc"))
                        if os.path.isdir(os.path.join(HERE, "csrc", d)))

if sys.platform == "win32":
    COMPILE_ARGS = ["/O2"]
else:
    # -O3 turns on the loop vectoriser; no -march=native so that a wheel runs on
    # any x86-64, and no -ffast-math: the tests check accuracy to a few ulp.
    # -fno-trapping-math lets the vectoriser turn the selects of csrc/common/fr_math.h
    # into blends; it changes no result (nothing here traps on FP exceptions).
    COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function"]

# The portable build: only the plain C paths of csrc/ (no per-ISA clones, no
# x86 intrinsics; see csrc/common/fr_dispatch.h; fastrnn._core.cpu reports it). Chosen with FASTRNN_PORTABLE=1, and always on a machine
# that is not x86-64 (ARM, POWER, ...), where the x86 code does not apply.
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
PORTABLE = os.environ.get("FASTRNN_PORTABLE") == "1" or not X86_64
MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if PORTABLE:
    MACROS.append(("FASTRNN_PORTABLE", "1"))

DEBUG = os.environ.get("FASTRNN_DEBUG_BUILD") == "1"
if DEBUG and sys.platform != "win32":
    COMPILE_ARGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-math-errno", "-fno-trapping-math"]


def c_sources_for(pyx):
    """The C files an extension needs: csrc/common/fr_kernels.c (the basics
    every loop uses), fr_dispatch.c (the CPU's ISA level) and, for each csrc
    header named by the .pyx or by a fastrnn .pxd it cimports, the .c file of
    the same name. Linking only these keeps
    the build and the wheel from repeating every kernel in every module."""
    texts = [open(pyx).read()]
    for mod in re.findall(r"from fastrnn\.([\w.]+) cimport", texts[0]):
        pxd = os.path.join(HERE, "fastrnn", *mod.split(".")) + ".pxd"
        if os.path.exists(pxd):
            texts.append(open(pxd).read())
    wanted = {"fr_kernels", "fr_dispatch"}
    for text in texts:
        wanted.update(re.findall(r'"(fr_\w+)\.h"', text))
    return [c for c in C_SOURCES if os.path.splitext(os.path.basename(c))[0] in wanted]


def extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join(HERE, "fastrnn", "**", "_*.pyx"), recursive=True)):
        name = os.path.splitext(os.path.relpath(pyx, HERE))[0].replace(os.sep, ".")
        exts.append(
            Extension(
                name,
                sources=[os.path.relpath(pyx, HERE)] + c_sources_for(pyx),
                depends=C_HEADERS,
                include_dirs=C_INCLUDE_DIRS + [np.get_include()],
                define_macros=MACROS,
                extra_compile_args=COMPILE_ARGS,
            )
        )
    return cythonize(
        exts,
        compiler_directives={
            "language_level": "3",
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "embedsignature": True,
        },
    )


class SerialBuildExt(build_ext):
    """build_ext without -j: the extensions share C files of csrc/, each
    compiled to the same object path, so two extensions built at once wrote
    one object file together and linked a broken module (seen as a missing
    kernel symbol at import)."""

    def finalize_options(self):
        super().finalize_options()
        self.parallel = None


setup(ext_modules=extensions(), cmdclass={"build_ext": SerialBuildExt})
