/*
 * Process-wide switch of the BLAS thread count around the per-step products
 * of a time loop (see fastrnn/_core/blas_threads.py for where the functions come
 * from). Nested or concurrent sweeps share one switch: the first to enter
 * saves the caller's count, the last to leave restores it.
 */
#ifndef FASTRNN_FR_BLAS_THREADS_H
#define FASTRNN_FR_BLAS_THREADS_H

typedef void (*fr_set_threads_fn)(int);
typedef int (*fr_get_threads_fn)(void);

/* Install (or with NULLs remove) the BLAS's setter and getter. */
void fr_blas_threads_install(fr_set_threads_fn set, fr_get_threads_fn get);
/* Run the BLAS with `want` threads until the matching fr_blas_threads_end;
 * want <= 0 or no installed functions: nothing happens. Returns whether the
 * matching end must be called. */
int fr_blas_threads_begin(int want);
void fr_blas_threads_end(void);

#endif
