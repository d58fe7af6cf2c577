/* See fr_blas_threads.h. A spin lock guards a few loads and stores; the
 * setter itself runs under it so that no sweep sees a half-switched count. */
#include "fr_blas_threads.h"

#include <stddef.h>

static fr_set_threads_fn set_threads = NULL;
static fr_get_threads_fn get_threads = NULL;
static int depth = 0;  /* sweeps inside a begin/end pair */
static int saved = 0;  /* the count to restore, 0 if unchanged */

#if defined(__GNUC__)
static char lock_flag = 0;
static void lock(void)
{
    while (__atomic_test_and_set(&lock_flag, __ATOMIC_ACQUIRE))
        ;
}
static void unlock(void) { __atomic_clear(&lock_flag, __ATOMIC_RELEASE); }
#define FR_HAVE_LOCK 1
#else
#define FR_HAVE_LOCK 0
static void lock(void) {}
static void unlock(void) {}
#endif

void fr_blas_threads_install(fr_set_threads_fn set, fr_get_threads_fn get)
{
    lock();
    set_threads = FR_HAVE_LOCK ? set : NULL;  /* no lock, no switching */
    get_threads = FR_HAVE_LOCK ? get : NULL;
    unlock();
}

int fr_blas_threads_begin(int want)
{
    int entered = 0;
    if (want <= 0)
        return 0;
    lock();
    if (set_threads != NULL && get_threads != NULL) {
        if (depth++ == 0) {
            int now = get_threads();
            saved = now != want ? now : 0;
            if (saved)
                set_threads(want);
        }
        entered = 1;
    }
    unlock();
    return entered;
}

void fr_blas_threads_end(void)
{
    lock();
    if (--depth == 0 && saved > 0 && set_threads != NULL) {
        set_threads(saved);
        saved = 0;
    }
    unlock();
}
