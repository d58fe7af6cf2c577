/*
 * The one thread team of fastrnn's C loops.
 *
 * A time loop that splits each step between threads needs them for the whole
 * sequence and meets them once per step, which is far too often to start
 * threads or to hand work to the BLAS's pool (a step of a small layer lasts
 * well under a microsecond). The team is started once, on first use, and
 * kept.
 *
 * A job is a sequence of phases (a time step, or a part of one), each cut
 * into `chunks` pieces that may run at the same time; phase q + 1 starts
 * when every chunk of phase q is done. Thread c takes chunk c of each phase
 * when it can (so a chunk's data stay in the cache of one core), and a
 * thread that is done with its own takes the chunks of a partner that has
 * not started on them after a few microseconds: on a busy machine a
 * descheduled thread then costs the others a short wait per phase instead
 * of a scheduler slice. Which thread runs a chunk must not change its
 * result; the callers' chunks are written so.
 *
 * Waiting spins briefly (a partner that is running arrives within
 * microseconds), then blocks on a condition variable, so that a waiting
 * thread gives its core back instead of burning it. Idle team threads
 * likewise spin briefly after a job, then sleep until the next one.
 *
 * One caller uses the team at a time; a caller arriving meanwhile (another
 * Python thread in a nogil loop) runs its job alone. Workers take the
 * caller's floating-point control word (FTZ/DAZ, rounding) for the job, so
 * every thread rounds as the caller does. Without POSIX threads every job
 * runs on its caller.
 */
#ifndef FASTRNN_FR_TEAM_H
#define FASTRNN_FR_TEAM_H

/* The most threads (and chunks) a job may have, the caller included. */
#define FR_TEAM_MAX 64

/* Runs chunk `chunk` of phase `phase`; tid is the thread running it (a
 * scratch slot, never a reason to compute differently). */
typedef void (*fr_chunk_fn)(void *ctx, long phase, int chunk, int tid);

/* Runs `phases` phases of `chunks` chunks (1 <= chunks <= FR_TEAM_MAX) on
 * up to `chunks` threads, the caller one of them; returns how many threads
 * the job had (at least 1). */
int fr_team_phases(long phases, int chunks, fr_chunk_fn fn, void *ctx);

#endif
