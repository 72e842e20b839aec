/* winograd.c - Winograd convolutions F(2x2,3x3) and F(4x4,3x3) for stride-1, pad-1 3x3 layers.
 *
 * For output tiles of m x m pixels (m = 2 or 4) read from input patches of a x a (a = m + 2):
 *   Y = A^T [ sum_c (G g_kc G^T) (.) (B^T d_c B) ] A
 * with the matrices of Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"
 * (CVPR 2016). The a*a element-wise products summed over input channels are a*a independent
 * matrix products, one per position of the transformed tile:
 *   M[pos] (tiles x oc) = V[pos] (tiles x ic) . U[pos] (ic x oc)
 * run as one batched oneDNN matmul (dnnl.c, weights packed once in its layout).
 *
 *   weights   U = G g G^T per (ic, oc), in float64, at plan build (nn_wino_weights)
 *   input     V = B^T d B per tile, straight from the NHWC activation (zero padding read as
 *             zeros, no padded copy), 16 channels per vector (winograd_tmpl.h)
 *   output    A^T M A per tile + bias, then the layer's post-ops (ReLU, leaky ReLU, sum onto
 *             dst, residual add) in order, written to the NHWC destination
 *
 * V and M live in one per-plan buffer shared by every Winograd layer. Only float32. */
#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct nn_wino {
    int m, a;                  /* output tile, input tile */
    int n, h, w, ic, oc;       /* activation shape (same h, w in and out) */
    int th, tw;                /* tiles per image, down and across */
    long ntiles;               /* n * th * tw */
    nn_postops po;
    const float *src, *add, *bias;
    float *dst, *V, *M;
    nn_prim *mm;               /* batched matmul V . U -> M */
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

/* the vector helpers are static inline: no ABI crosses a function boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
#define WT(x) x##_avx512
#define WT_ATTR __attribute__((target("avx512f")))
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR
#define WT(x) x##_avx2
#define WT_ATTR __attribute__((target("avx2,fma")))
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR
#define WT(x) x##_base
#define WT_ATTR
#include "nn/winograd_tmpl.h"
#undef WT
#undef WT_ATTR

typedef void (*tile_fn)(const nn_wino *, long);

static void pick(tile_fn *in, tile_fn *out) {
    if (__builtin_cpu_supports("avx512f")) {
        *in = input_tile_avx512, *out = output_tile_avx512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *in = input_tile_avx2, *out = output_tile_avx2;
    } else {
        *in = input_tile_base, *out = output_tile_base;
    }
}

const char *nn_wino_isa(void) {
    return __builtin_cpu_supports("avx512f") ? "avx512"
           : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? "avx2"
                                                                              : "sse2";
}

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

float *nn_wino_weights(int m, const float *w, int oc, int ic) {
    static const double G4[6][3] = {{1 / 4., 0, 0},           {-1 / 6., -1 / 6., -1 / 6.},
                                    {-1 / 6., 1 / 6., -1 / 6.}, {1 / 24., 1 / 12., 1 / 6.},
                                    {1 / 24., -1 / 12., 1 / 6.}, {0, 0, 1}};
    static const double G2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
    const int a = m + 2;
    float *U = cliff_alloc((size_t)a * a * ic * oc * sizeof(float));
    if (!U) return NULL;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++)
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
                    U[((size_t)(i * a + j) * ic + c) * oc + o] = (float)s;
                }
        }
    return U;
}

cliff_status nn_wino_create(nn_engine *e, const char *name, int m, nn_shape src, nn_shape dst,
                            const nn_postops *po, nn_packed **wpk, const float *U, const float *bias,
                            void *src_p, void *dst_p, void *add_p, nn_wino **out) {
    *out = NULL;
    if (m != 2 && m != 4) return cliff_fail(CLIFF_EINVAL, "Winograd tile for '%s': expected 2 or 4", name);
    nn_wino *W = calloc(1, sizeof *W);
    if (!W) return cliff_fail(CLIFF_ENOMEM, "out of memory creating layer '%s'", name);
    W->m = m;
    W->a = m + 2;
    W->n = src.n, W->h = src.h, W->w = src.w, W->ic = src.c, W->oc = dst.c;
    W->th = (src.h + m - 1) / m;
    W->tw = (src.w + m - 1) / m;
    W->ntiles = (long)src.n * W->th * W->tw;
    W->po = po ? *po : (nn_postops){0};
    W->src = src_p, W->dst = dst_p, W->add = add_p, W->bias = bias;
    cliff_status st = nn_matmul(e, name, W->a * W->a, (int)W->ntiles, W->ic, W->oc, wpk, U, &W->mm);
    if (st) {
        free(W);
        return st;
    }
    *out = W;
    return CLIFF_OK;
}

size_t nn_wino_buffer_bytes(const nn_wino *W) {
    size_t v = (size_t)W->a * W->a * W->ntiles * W->ic * sizeof(float);
    size_t mm = (size_t)W->a * W->a * W->ntiles * W->oc * sizeof(float);
    return ((v + 4095) & ~(size_t)4095) + mm;
}

size_t nn_wino_scratchpad(const nn_wino *W) { return nn_prim_scratchpad(W->mm); }

int nn_wino_tile(const nn_wino *W) { return W->m; }

cliff_status nn_wino_bind(nn_engine *e, nn_wino *W, void *buf, void *scratch) {
    size_t v = (size_t)W->a * W->a * W->ntiles * W->ic * sizeof(float);
    W->V = buf;
    W->M = (float *)((char *)buf + ((v + 4095) & ~(size_t)4095));
    cliff_status st = nn_matmul_bind(W->mm, W->V, W->M);
    if (!st) st = nn_prim_set_scratchpad(e, W->mm, scratch);
    return st;
}

cliff_status nn_wino_exec(nn_engine *e, nn_wino *W, const char *name) {
    tile_fn in, outf;
    pick(&in, &outf);
    const long nt = W->ntiles;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < nt; t++) in(W, t);
    cliff_status st = nn_prim_exec(e, W->mm, name);
    if (!st) st = nn_wait(e);
    if (st) return st;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < nt; t++) outf(W, t);
    return CLIFF_OK;
}

void nn_wino_free(nn_wino *W) {
    if (!W) return;
    nn_prim_free(W->mm);
    free(W);
}
