/*
 * The gated-cell engine: the forward time loop of the simple RNN, LSTM and
 * both GRU forms, with W_hh packed once per call and each step split between
 * the threads of the team (csrc/common/fr_team.h) by hidden units.
 *
 * Why its own products instead of a BLAS call per step: a step's product
 * h_{t-1} W_hh^T is small, and a BLAS re-packs W_hh and wakes and joins its
 * threads on every call. Here every thread packs its own slice of W_hh once,
 * in the layout its micro-kernel reads (fr_engine_hot_impl.h), keeps it in
 * its cache for all T steps, and owns all G gate rows of its units, so the
 * cell update is fused into the same pass and the threads meet once per step
 * (twice for the GRU with the reset before the product): each step is a
 * phase of a team job whose chunks are the threads' blocks of units.
 *
 * The input projection of the whole sequence, x W_ih^T + bias for all T*B
 * rows, is the team's first phase of work (after packing), with the same
 * tiles: the threads then own their units' columns of the gate buffer from
 * start to end, and no BLAS pool wakes beside the team (OpenBLAS's threads
 * spin after a call, on the cores the team needs).
 *
 * Results do not depend on the thread count, nor on the batch size: every
 * output of a step is one dot product summed in the order of k, then the
 * same element-wise code, whichever thread, tile or batch row computes it.
 */
#ifndef FASTRNN_FR_ENGINE_H
#define FASTRNN_FR_ENGINE_H

#include <stddef.h>

/* One direction of one layer over a sequence. Shapes for G gates (FR_CELL_*
 * kinds of fr_cells.h); the arrays are float or double (is_double), all of
 * one precision; pointers to arrays the cell does not use are NULL. The
 * buffers are those of fastrnn/layers/_recurrent.pyx's cell_forward. */
typedef struct {
    int kind;                 /* FR_CELL_* */
    int is_double;            /* the arrays' precision */
    int steps, batch, hidden; /* T, B, H */
    int inputs;               /* D */
    const int *batch_sizes;   /* IN (T,) rows running at each step */
    const void *x;            /* IN (T, B, D) */
    const void *w_ih;         /* IN (G*H, D) */
    const void *bias_x;       /* IN (G*H,) the biases summed into the gates, or
                                 (B, G*H) a row per sequence with bias_per_row */
    const void *w_hh;         /* IN (G*H, H) */
    const void *b_hn;         /* IN (H,) GRU: the recurrent n block's bias */
    const void *peep;         /* IN (3H,) LSTM peepholes (zeros without) */
    void *gates;     /* OUT (T, B, G*H): the gate activations (pre-activations for
                        the RNN); the input side's pre-activations on the way */
    void *recurrent; /* OUT, GRU: the recurrent products (n block: + b_hn) */
    ptrdiff_t recurrent_stride; /* between steps: B*3H, or 0 to reuse one */
    void *hs;        /* INOUT (T+1, B, H): hs[0] = h_0, hs[t+1] = h_t */
    void *cs;        /* INOUT (T+1, B, H), LSTM: the cell states; with a ring
                        (inference) (2, B, H): c_t in slot t % 2, so c_0 in
                        slot 0 on entry and each row's last c_t in slot
                        t % 2 of its own last step on exit */
    void *reset_hidden; /* OUT (T, B, H), GRU_BEFORE: r_t h_{t-1} */
    int bias_per_row;   /* bias_x holds a row per sequence (a context's term) */
    ptrdiff_t ring;     /* 0: gates (and reset_hidden) keep every step, for
                           backward; R > 0 (inference): they hold R steps,
                           step t's rows in slot t % R, R being
                           fr_engine_project_steps() for the same args */
} fr_engine_args;

/* Runs on up to nthreads threads of the team (no more than there are blocks
 * of units) and returns how many ran (>= 1), or -1 when the packed weights
 * could not be allocated (nothing was computed). */
int fr_engine_forward(const fr_engine_args *args, int nthreads);

/* How many steps the engine projects at a time for these args on nthreads
 * threads: the steps a ring must hold. */
ptrdiff_t fr_engine_project_steps(const fr_engine_args *args, int nthreads);

/* The backward sweep's per-step product dh (+)= d_gates W_hh on the
 * engine's tiles, W_hh (K = G*H rows of H) packed once per sweep instead of
 * by the BLAS at every step. fr_engine_packed_columns_size: the values of
 * the packed copy; fr_engine_pack_columns writes it into dst (64-byte
 * aligned); fr_engine_rows_times_packed: out[r, j] (+ out[r, j] when
 * accumulate) = sum_k in[r ldin + k] W[k, j], r < n, j < H, each sum in the
 * order of k (results independent of n and of the thread). */
size_t fr_engine_packed_columns_size(int is_double, ptrdiff_t K, ptrdiff_t H);
void fr_engine_pack_columns(int is_double, const void *w, ptrdiff_t K, ptrdiff_t H, void *dst);
void fr_engine_rows_times_packed(int is_double, int n, ptrdiff_t K, const void *in,
                                 ptrdiff_t ldin, const void *packed, ptrdiff_t H, int accumulate,
                                 void *out, ptrdiff_t ldout);

/* The units of one micro-kernel column block, per precision: 64 bytes. */
int fr_engine_block_units(int is_double);

#endif
