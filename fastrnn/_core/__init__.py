"""Private infrastructure shared by every part of fastrnn: argument checks
(``validation.py``), the BLAS and C-kernel declarations for the Cython loops
(``blas.pxd``, ``kernels.pxd``, ``matmul.pxd``), BLAS thread control, the CPU
count (``cpus.py``), the progress reporter (``progress.py``) and the timing
rule (``timing.py``)."""
