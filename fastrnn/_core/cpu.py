"""The instruction set the C kernels run at, for bug reports and tests.

``isa_level()`` is ``"x86-64-v4"`` (AVX-512), ``"x86-64-v3"`` (AVX2, FMA) or
``"baseline"`` (the plain C compiled for the build's target: SSE2 on
x86-64) in a build with the per-ISA clones, and ``"portable"`` in the
portable build, which `PORTABLE_BUILD` also says. `HAS_ISA_CLONES` is
whether the kernels were compiled with the clones at all (GCC >= 12 on
x86-64 Linux, not portable). The level is chosen once, when the extensions
load, from what the CPU reports (see csrc/common/fr_dispatch.h).
"""
from fastrnn._core._cpu import HAS_ISA_CLONES, PORTABLE_BUILD, isa_level

__all__ = ["HAS_ISA_CLONES", "PORTABLE_BUILD", "isa_level"]
