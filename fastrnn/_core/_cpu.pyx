# cython: language_level=3
"""Which of the C kernels' builds this process runs (csrc/common/fr_dispatch.h).

The kernels of every extension are cloned by x86-64 ISA level and the clone
is chosen when the extension loads, from what the CPU reports; a portable
build (``FASTRNN_PORTABLE=1`` at build time, or a machine that is not x86-64)
has the plain C path only. Read it through ``fastrnn._core.cpu``.
"""

cdef extern from "fr_dispatch.h" nogil:
    enum:
        FR_ISA_PORTABLE
        FR_ISA_BASELINE
        FR_ISA_X86_64_V3
        FR_ISA_X86_64_V4
    int FR_PORTABLE_BUILD
    int FR_HAVE_ISA_CLONES
    int fr_isa_level()

PORTABLE_BUILD = bool(FR_PORTABLE_BUILD)
HAS_ISA_CLONES = bool(FR_HAVE_ISA_CLONES)

_NAMES = {FR_ISA_PORTABLE: "portable", FR_ISA_BASELINE: "baseline",
          FR_ISA_X86_64_V3: "x86-64-v3", FR_ISA_X86_64_V4: "x86-64-v4"}


def isa_level():
    return _NAMES[fr_isa_level()]
