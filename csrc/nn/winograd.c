/* winograd.c - Winograd convolutions F(2x2,3x3) and F(4x4,3x3) for stride-1, pad-1 3x3 layers.
 *
 * For output tiles of m x m pixels (m = 2 or 4) read from input patches of a x a (a = m + 2):
 *   Y = A^T [ sum_c (G g_kc G^T) (.) (B^T d_c B) ] A
 * with the matrices of Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"
 * (CVPR 2016). The a*a element-wise products summed over input channels are a*a independent
 * matrix products, one per position of the transformed tile:
 *   M[pos] (tiles x oc) = V[pos] (tiles x ic) . U[pos] (ic x oc)
 * computed block by block: each thread takes blocks of tiles and, with its own buffer small
 * enough for its L2 cache, transforms their input, multiplies (register-blocked broadcast-FMA
 * kernel, AVX-512 / AVX2 / baseline chosen at run time from cpuid), and writes their output:
 * one parallel region per layer, no barrier between the three steps.
 *
 *   weights   U = G g G^T per (ic, oc), in float64, at plan build (nn_wino_weights)
 *   input     V = B^T d B per tile, straight from the NHWC activation (zero padding read as
 *             zeros, no padded copy), 16 channels per vector (winograd_tmpl.h)
 *   output    A^T M A per tile + bias, then the layer's post-ops (ReLU, leaky ReLU, sum onto
 *             dst, residual add) in order, written to the NHWC destination
 *
 * The per-thread buffers live in one per-plan buffer shared by every Winograd layer. U is
 * kept by the model (oc padded to a multiple of 16 with zeros). Only float32. */
/* The kernels below are written as a * b + c on vectors; -std=c11 turns GCC's contraction of
 * that into one fused multiply-add off (ISO C allows it only with FP_CONTRACT, which GCC does
 * not implement), and a separate multiply and add take two issue slots of the FP pipes: the
 * products ran at half the FMA rate. Contract in this file (clang contracts within an
 * expression by default). FMA rounds once: results change in the last bits, within the
 * transforms' own rounding (tests/test_winograd.py). */
/* O3 too: the register blocks (acc[rows * nvec], the 6x6 / 4x4 transform arrays) stay in
 * registers only once GCC fully unrolls their small loops, which -O2 does not; a C program
 * building the core at -O2 ran HR48 1.5-1.8x slower (docs/performance.md). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#endif

#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct nn_wino {
    int m, a;                  /* output tile, input tile */
    int n, h, w, ic, oc, kp;   /* activation shape (same h, w in and out); kp: oc rounded up to 16 */
    int th, tw;                /* tiles per image, down and across */
    long ntiles;               /* n * th * tw */
    int bt, bp;                /* tiles per block; rows of a block's products (bt rounded up) */
    long nblk;
    size_t tbytes;             /* one thread's buffer: V (a*a, bp, ic) + M (a*a, bp, kp) */
    nn_postops po;
    const float *src, *add, *bias, *U;
    float *dst;
    void *buf;                 /* nthr * tbytes, set by nn_wino_bind */
    int isa;                   /* 2 avx512, 1 avx2, 0 base */
    int nthr;                  /* threads the buffer was sized for: the team never exceeds it */
    int prefetch;              /* activations larger than PREFETCH_BYTES: prefetch the next tiles */
};

/* B^T, A^T of F(4x4,3x3) and F(2x2,3x3) applied to one column/row (o: array of results). */
#define BT4(o, i0, i1, i2, i3, i4, i5)                                                             \
    do {                                                                                           \
        o[0] = 4.f * (i0) - 5.f * (i2) + (i4);                                                     \
        o[1] = -4.f * ((i1) + (i2)) + (i3) + (i4);                                                 \
        o[2] = 4.f * ((i1) - (i2)) - (i3) + (i4);                                                  \
        o[3] = 2.f * ((i3) - (i1)) - (i2) + (i4);                                                  \
        o[4] = 2.f * ((i1) - (i3)) - (i2) + (i4);                                                  \
        o[5] = 4.f * (i1) - 5.f * (i3) + (i5);                                                     \
    } while (0)
#define AT4(o, i0, i1, i2, i3, i4, i5)                                                             \
    do {                                                                                           \
        o[0] = (i0) + (i1) + (i2) + (i3) + (i4);                                                   \
        o[1] = (i1) - (i2) + 2.f * ((i3) - (i4));                                                  \
        o[2] = (i1) + (i2) + 4.f * ((i3) + (i4));                                                  \
        o[3] = (i1) - (i2) + 8.f * ((i3) - (i4)) + (i5);                                           \
    } while (0)
#define BT2(o, i0, i1, i2, i3)                                                                     \
    do {                                                                                           \
        o[0] = (i0) - (i2);                                                                        \
        o[1] = (i1) + (i2);                                                                        \
        o[2] = (i2) - (i1);                                                                        \
        o[3] = (i1) - (i3);                                                                        \
    } while (0)
#define AT2(o, i0, i1, i2, i3)                                                                     \
    do {                                                                                           \
        o[0] = (i0) + (i1) + (i2);                                                                 \
        o[1] = (i1) - (i2) - (i3);                                                                 \
    } while (0)

/* The width of U's column panel that starts at output channel k0 (kp a multiple of 16): 48 when
 * kp is a multiple of 48 but not of 32 (HRNet's 48 channels: the AVX-512 kernel's 4 x 3
 * blocks), else 32, and 16 for a last 16. Each panel is stored contiguously, ic x width. */
static inline int nn_wino_panel(int kp, int k0) {
    if (kp % 32 && kp % 48 == 0) return 48;
    return k0 + 32 <= kp ? 32 : 16;
}

/* the vector helpers are static inline: no ABI crosses a function boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
static const int ROWS[3] = {2, 6, 8}; /* WT_R per instruction set: base, avx2, avx512 */
#define WT(x) x##_avx512
#define WT_ATTR __attribute__((target("avx512f")))
#define WT_R 8  /* 8 x 2 zmm accumulators (4 x 3 for 48 channels, 8 x 1 for a last 16) */
#define WT_NV 2
#define WT_GV 16
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR
#undef WT_R
#undef WT_NV
#undef WT_GV
#define WT(x) x##_avx2
#define WT_ATTR __attribute__((target("avx2,fma")))
#define WT_R 6  /* 6 x 2 ymm accumulators */
#define WT_NV 1
#define WT_GV 8
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR
#undef WT_R
#undef WT_NV
#undef WT_GV
#define WT(x) x##_base
#define WT_ATTR
#define WT_R 2  /* 2 x 4 xmm accumulators (SSE2 has 16 registers) */
#define WT_NV 1
#define WT_GV 4
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR
#undef WT_R
#undef WT_NV
#undef WT_GV

typedef void (*block_fn)(const nn_wino *, long, float *);

static const char *const ISA_NAMES[3] = {"sse2", "avx2", "avx512"}; /* by W->isa */

static int isa_cpu(void) {
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}

/* The kernels' instruction set: the CPU's best, or at most CLIFF_WINOGRAD_ISA ("avx512",
 * "avx2", "sse2": lets a test or a benchmark run the AVX2 or baseline kernels on a CPU that
 * has more). -1: an unknown value. */
static int isa_for_layer(void) {
    const char *v = getenv("CLIFF_WINOGRAD_ISA");
    int cpu = isa_cpu();
    if (!v || !*v) return cpu;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, ISA_NAMES[i]) == 0) return i < cpu ? i : cpu;
    return -1;
}

const char *nn_wino_isa(const nn_wino *W) { return ISA_NAMES[W->isa]; }

int nn_wino_eligible(nn_shape src, nn_shape dst, int k, int stride, int pad, const nn_postops *po,
                     nn_shape add_shape) {
    if (src.dt != NN_F32 || dst.dt != NN_F32 || k != 3 || stride != 1 || pad != 1) return 0;
    if (src.h != dst.h || src.w != dst.w || src.n != dst.n) return 0;
    for (int i = 0; po && i < po->n; i++)
        if (po->kind[i] == PO_ADD && (add_shape.c != dst.c || add_shape.h != dst.h ||
                                      add_shape.w != dst.w || add_shape.dt != NN_F32))
            return 0;
    return 1;
}

int nn_wino_kp(int oc) { return (oc + 15) / 16 * 16; }

float *nn_wino_weights(int m, const float *w, int oc, int ic) {
    static const double G4[6][3] = {{1 / 4., 0, 0},           {-1 / 6., -1 / 6., -1 / 6.},
                                    {-1 / 6., 1 / 6., -1 / 6.}, {1 / 24., 1 / 12., 1 / 6.},
                                    {1 / 24., -1 / 12., 1 / 6.}, {0, 0, 1}};
    static const double G2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
    const int a = m + 2, kp = nn_wino_kp(oc);
    float *U = cliff_alloc((size_t)a * a * ic * kp * sizeof(float));
    if (!U) return NULL;
    memset(U, 0, (size_t)a * a * ic * kp * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        int k0 = 0, pw = nn_wino_panel(kp, 0); /* the column panel of output channel o */
        while (o >= k0 + pw) {
            k0 += pw;
            pw = nn_wino_panel(kp, k0);
        }
        for (int c = 0; c < ic; c++) {
            const float *g = w + ((size_t)o * ic + c) * 9;
            double t[6][3];
            for (int i = 0; i < a; i++)
                for (int q = 0; q < 3; q++) {
                    double s = 0;
                    for (int p = 0; p < 3; p++) s += (m == 4 ? G4[i][p] : G2[i][p]) * g[p * 3 + q];
                    t[i][q] = s;
                }
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    double s = 0;
                    for (int q = 0; q < 3; q++) s += t[i][q] * (m == 4 ? G4[j][q] : G2[j][q]);
                    U[(size_t)(i * a + j) * ic * kp + (size_t)k0 * ic + (size_t)c * pw + (o - k0)] = (float)s;
                }
        }
    }
    return U;
}

/* Tiles per block: a thread's transformed input and products stay within ~512 KB (L2), and
 * at least MIN_BLOCK tiles (U is streamed once per block), and at least as many blocks as
 * threads when the layer has enough tiles. */
#define BLOCK_BYTES (512 * 1024)
/* Activations (one tensor, whole batch) above this do not stay in a core's L2 between layers:
 * the transforms prefetch the next tiles' pixels (winograd_tmpl.h, prefetch_tile). */
#define PREFETCH_BYTES (1024 * 1024)
#define MIN_BLOCK 48

cliff_status nn_wino_create(const char *name, int m, nn_shape src, nn_shape dst, const nn_postops *po,
                            const float *U, const float *bias, void *src_p, void *dst_p, void *add_p,
                            int nthr, nn_wino **out) {
    *out = NULL;
    if (m != 2 && m != 4) return cliff_fail(CLIFF_EINVAL, "Winograd tile for '%s': expected 2 or 4", name);
    nn_wino *W = calloc(1, sizeof *W);
    if (!W) return cliff_fail(CLIFF_ENOMEM, "out of memory creating layer '%s'", name);
    W->m = m;
    W->a = m + 2;
    W->n = src.n, W->h = src.h, W->w = src.w, W->ic = src.c, W->oc = dst.c, W->kp = nn_wino_kp(dst.c);
    W->th = (src.h + m - 1) / m;
    W->tw = (src.w + m - 1) / m;
    W->ntiles = (long)src.n * W->th * W->tw;
    W->po = po ? *po : (nn_postops){0};
    W->src = src_p, W->dst = dst_p, W->add = add_p, W->bias = bias, W->U = U;
    if ((W->isa = isa_for_layer()) < 0) {
        free(W);
        return cliff_fail(CLIFF_EINVAL, "CLIFF_WINOGRAD_ISA='%s': expected 'avx512', 'avx2' or 'sse2'",
                          getenv("CLIFF_WINOGRAD_ISA"));
    }
    W->nthr = nthr > 0 ? nthr : 1;
    W->prefetch = (size_t)W->n * W->h * W->w * (size_t)(W->ic > W->oc ? W->ic : W->oc) * sizeof(float) > PREFETCH_BYTES;
    const int R = ROWS[W->isa], T = W->a * W->a;
    size_t per_tile = (size_t)T * (W->ic + W->kp) * sizeof(float);
    long bt = (long)(BLOCK_BYTES / per_tile) / R * R;
    if (bt < MIN_BLOCK) bt = MIN_BLOCK; /* each block reads all of U once: amortise it */
    long share = (W->ntiles + nthr - 1) / (nthr > 0 ? nthr : 1);
    if (share < bt) bt = share;
    W->bt = (int)bt;
    W->bp = (int)((bt + R - 1) / R * R);
    W->nblk = (W->ntiles + bt - 1) / bt;
    W->tbytes = ((size_t)T * W->bp * (W->ic + W->kp) * sizeof(float) + 4095) & ~(size_t)4095;
    *out = W;
    return CLIFF_OK;
}

size_t nn_wino_buffer_bytes(const nn_wino *W, int nthr) {
    (void)nthr; /* the layer's own thread count, fixed at creation */
    return W->tbytes * (size_t)W->nthr;
}

int nn_wino_tile(const nn_wino *W) { return W->m; }

void nn_wino_bind(nn_wino *W, void *buf) { W->buf = buf; }

void nn_wino_exec(nn_wino *W) {
    block_fn f = W->isa == 2 ? block_avx512 : W->isa == 1 ? block_avx2 : block_base;
    const long nblk = W->nblk;
#pragma omp parallel num_threads(W->nthr)
    {
        const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        float *buf = (float *)((char *)W->buf + (size_t)tid * W->tbytes);
        for (long b = tid; b < nblk; b += nth) f(W, b, buf);
    }
}

void nn_wino_free(nn_wino *W) { free(W); }
