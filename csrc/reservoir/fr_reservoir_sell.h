/*
 * W in sliced ELLPACK (SELL-C) for the single-series step: the rows of W
 * in groups of C (one vector register of the precision: 8 doubles or 16
 * floats with AVX-512), each group's nonzeros interleaved so that one
 * vector operation serves one nonzero of each of the C rows. The entries
 * of x (one hardware gather, or C plain loads where gathers are slow: see
 * FR_RES_FETCH_* in fr_reservoir.h) then fill a whole register, and the row
 * sums need no horizontal adds, where the CSR row loop fetched four entries
 * of one row at a time.
 *
 * The sums stay those of the CSR row loop (fr_reservoir_csr_impl.h), bit
 * for bit: that loop adds a row's nonzero k into partial sum k % 4 while
 * four remain, the rest into partial sum 0, and returns
 * (s0 + s1) + (s2 + s3). Here each partial sum is a vector register over
 * the group's rows, fed the same terms in the same order:
 *
 *   - Q "steps of four": slot a of step p holds term 4p + a of each row
 *     (partial sum a), or, past a row's last group of four, its next
 *     remaining term in slot 0 (partial sum 0);
 *   - then R "steps of one" (slot 0 only) for the remaining terms of the
 *     rows with the most of them.
 *
 * A lane without a term in a slot is masked off (its gather skips it, or
 * its plain load reads column 0 for nothing, and its add skips it), so
 * padding never adds anything, not even 0 * inf. Each row's sum is
 * then added to its pre-activation, wherever the sorting put the row.
 *
 * Built per call of the time loop from the CSR arrays (a pass over the
 * nonzeros, about as long as a few steps), so it can never be stale.
 */
#ifndef FASTRNN_FR_RESERVOIR_SELL_H
#define FASTRNN_FR_RESERVOIR_SELL_H

#include <stddef.h>
#include <stdint.h>
#include "fr_reservoir.h"

/* Runs this short take the CSR row loop (the same results): building the
 * layout costs about as much as a few steps. */
enum { FR_RES_SELL_MIN_STEPS = 64 };

/* Nor does a W of more than this many bytes of values and indices: the
 * layout is a second copy of it, and a W this large streams from memory
 * at every step, whatever its layout. */
#define FR_RES_SELL_MAX_BYTES (256.0 * 1024 * 1024)

/* Rows are grouped within windows of this many (the row tile of the step,
 * a multiple of every group size), longest first where that pays, so that
 * a group's rows have about as many terms. A thread's rows start at a
 * window. */
#define FR_RES_SELL_WINDOW 64
#define FR_RES_SELL_NO_ROW 0xFF
/* Gathered lanes a sorted window must save per group to be sorted: about
 * what adding a group's sums to scattered rows costs (measured: sorting
 * every window made N = 100 slower, 6.5 -> 7.1 ms, although a fifth fewer
 * lanes were gathered). */
#define FR_RES_SELL_SORT_GAIN 40

typedef struct {
    int lanes;              /* C: rows per group, a vector register's elements */
    ptrdiff_t groups;       /* C-row groups: FR_RES_SELL_WINDOW / C per window */
    ptrdiff_t *shape;       /* (groups, 4): first slot, Q, R of each group, and its
                             * rows when they are consecutive (else 0: sorted) */
    uint8_t *rows;          /* (groups, C): the row of each lane within its window,
                             * or FR_RES_SELL_NO_ROW */
    void *values;           /* (slots, C) elements of the model's precision; 0 where masked */
    uint16_t *indices;      /* (slots, C) column indices (N <= 65536) */
    uint16_t *masks;        /* (slots,) bit l: lane l holds a term */
    void *block;            /* the allocation of values, indices and masks (shape and
                             * rows are one allocation of their own, at shape) */
} fr_res_sell;

/* Lays out the model's CSR W (16-bit indices) for `lanes` rows per group;
 * elements of `elem_size` bytes. Returns 0 (and frees what it took) when
 * memory is short; the caller then runs the CSR loop. */
int fr_res_sell_build(const fr_res_model *m, int lanes, size_t elem_size, fr_res_sell *sell);

void fr_res_sell_free(fr_res_sell *sell);

#endif
