"""Shared by the thread tests of every folder: run a function in several
threads that start together, and compare results to the bit."""
import threading

import numpy as np

N_THREADS = 4


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def run_in_threads(fn, n=N_THREADS):
    """Run fn(i) in n threads that start together; return results by i.
    Exceptions in a thread are re-raised here."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def body(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
