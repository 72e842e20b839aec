/* winograd_layer.c - the Winograd layers of csrc/nn/winograd.c against a direct convolution
 * computed here in double precision (test_winograd.py builds and runs it).
 *
 * For every instruction set this CPU runs (CLIFF_WINOGRAD_ISA = sse2, avx2, avx512), both
 * tiles, channel counts that take every register-blocking path of the products (16, 48, 64,
 * 80, 96 output channels: one vector, the 4 x 3 blocks, 8 x 2, 8 x 2 plus a last 8 x 1, ...),
 * odd map sizes (partial tiles), batch 1 and 3 and the post-ops ReLU, sum onto the destination
 * and residual add, and one layer large enough for the prefetching path: max |winograd - direct| / max |direct| must stay below 1e-5 (F(2x2)) and
 * 5e-5 (F(4x4)). Prints "ok" and exits 0, or names the failing case and exits 1. */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static unsigned rng = 12345;
static float urand(void) {
    rng = rng * 1103515245u + 12345u;
    return ((rng >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* y = post-ops(conv3x3(x, w) + b), NHWC, pad 1, in double */
static void direct(const float *x, const float *w, const float *b, const float *dst0, const float *add,
                   double *y, int n, int h, int wd, int ic, int oc, const nn_postops *po) {
    for (int i = 0; i < n; i++)
        for (int r = 0; r < h; r++)
            for (int c = 0; c < wd; c++)
                for (int o = 0; o < oc; o++) {
                    double s = b[o];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int yy = r + ky - 1, xx = c + kx - 1;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                            const float *px = x + (((size_t)i * h + yy) * wd + xx) * ic;
                            for (int k = 0; k < ic; k++) s += (double)px[k] * w[((size_t)o * ic + k) * 9 + ky * 3 + kx];
                        }
                    size_t at = (((size_t)i * h + r) * wd + c) * oc + o;
                    for (int p = 0; p < po->n; p++) {
                        if (po->kind[p] == PO_RELU) s = s > 0 ? s : 0;
                        else if (po->kind[p] == PO_SUM) s += dst0[at];
                        else if (po->kind[p] == PO_ADD) s += add[at];
                    }
                    y[at] = s;
                }
}

static int check(const char *isa, int m, int n, int h, int wd, int ic, int oc, const nn_postops *po) {
    size_t xs = (size_t)n * h * wd * ic, ys = (size_t)n * h * wd * oc;
    float *x = cliff_alloc(xs * sizeof(float)), *y = cliff_alloc(ys * sizeof(float));
    float *y0 = malloc(ys * sizeof(float)), *add = cliff_alloc(ys * sizeof(float));
    float *w = malloc((size_t)oc * ic * 9 * sizeof(float)), *b = malloc((size_t)oc * sizeof(float));
    double *want = malloc(ys * sizeof(double));
    if (!x || !y || !y0 || !add || !w || !b || !want) return 1;
    for (size_t i = 0; i < xs; i++) x[i] = urand();
    for (size_t i = 0; i < (size_t)oc * ic * 9; i++) w[i] = urand() / sqrtf(9.0f * ic);
    for (int i = 0; i < oc; i++) b[i] = 0.1f * urand();
    for (size_t i = 0; i < ys; i++) y[i] = y0[i] = urand(), add[i] = urand();
    direct(x, w, b, y0, add, want, n, h, wd, ic, oc, po);
    float *U = nn_wino_weights(m, w, oc, ic);
    nn_shape s = {n, ic, h, wd, NN_F32}, d = {n, oc, h, wd, NN_F32};
    nn_wino *W = NULL;
    int bad = 1;
    if (U && nn_wino_create("test", m, s, d, po, U, b, x, y, add, 2, &W) == CLIFF_OK) {
        void *buf = cliff_alloc(nn_wino_buffer_bytes(W, 2));
        if (buf) {
            nn_wino_bind(W, buf);
            nn_wino_exec(W);
            double err = 0, mag = 0;
            for (size_t i = 0; i < ys; i++) {
                err = fmax(err, fabs(y[i] - want[i]));
                mag = fmax(mag, fabs(want[i]));
            }
            double tol = m == 2 ? 1e-5 : 5e-5;
            bad = !(err <= tol * mag) || strcmp(nn_wino_isa(W), isa) != 0;
            if (bad)
                fprintf(stderr, "FAIL isa %s (ran %s) F(%dx%d) n%d %dx%d ic %d oc %d post-ops %d: rel err %.3g\n",
                        isa, nn_wino_isa(W), m, m, n, h, wd, ic, oc, po->n, err / mag);
            cliff_free(buf);
        }
        nn_wino_free(W);
    } else {
        fprintf(stderr, "FAIL: could not create the layer (isa %s)\n", isa);
    }
    cliff_free(U);
    cliff_free(x), cliff_free(y), free(y0), cliff_free(add), free(w), free(b), free(want);
    return bad;
}

int main(void) {
    static const char *isas[3] = {"sse2", "avx2", "avx512"};
    int best = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    static const int ocs[] = {16, 48, 64, 80, 96};
    const nn_postops relu = {1, {PO_RELU}}, sum = {2, {PO_SUM, PO_RELU}}, add = {2, {PO_ADD, PO_RELU}};
    int fails = 0;
    for (int k = 0; k <= best; k++) {
        setenv("CLIFF_WINOGRAD_ISA", isas[k], 1);
        for (int m = 2; m <= 4; m += 2)
            for (size_t j = 0; j < sizeof ocs / sizeof *ocs; j++) {
                fails += check(isas[k], m, 1, 13, 10, 24, ocs[j], &relu);
                fails += check(isas[k], m, 3, 9, 7, 40, ocs[j], j % 2 ? &sum : &add);
            }
        /* activations above 1 MiB: the transforms prefetch the next tiles (winograd.c) */
        fails += check(isas[k], 4, 2, 40, 36, 48, 96, &add);
    }
    setenv("CLIFF_WINOGRAD_ISA", "avx1024", 1);
    nn_wino *W = NULL;
    nn_shape s = {1, 16, 8, 8, NN_F32};
    float dummy[16] = {0};
    if (nn_wino_create("test", 2, s, s, NULL, dummy, dummy, dummy, dummy, NULL, 1, &W) != CLIFF_EINVAL || W) {
        fprintf(stderr, "FAIL: an unknown CLIFF_WINOGRAD_ISA was accepted\n");
        fails++;
    }
    if (fails) return 1;
    printf("ok\n");
    return 0;
}
