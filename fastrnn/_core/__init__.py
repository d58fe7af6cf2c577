"""Private infrastructure shared by every part of fastrnn: argument checks
(``validation.py``), the BLAS and C-kernel declarations for the Cython loops
(``blas.pxd``, ``kernels.pxd``, ``matmul.pxd``: each float/double choice made
once, in an inline wrapper), the CPU's instruction-set level the kernels run
at (``cpu.py``), BLAS thread control (``blas_threads.py``), the CPU count
(``cpus.py``), the progress reporter (``progress.py``) and the timing rule
(``timing.py``). Nothing here imports from the rest of fastrnn."""
