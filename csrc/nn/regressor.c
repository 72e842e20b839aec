/* regressor.c - CLIFF's iterative regressor, collapsed.
 *
 * The official regressor iterates 3 times: xc = [feat | bbox | pose | shape | cam] (2208),
 * h = fc2(fc1(xc)), state += [decpose; decshape; deccam](h). There is no nonlinearity (dropout
 * is identity at inference), so one step is state += M xc + c with
 * M = Wdec W2 W1 (157 x 2208) and c = Wdec (W2 b1 + b2) + bdec, computed once at load in
 * float64. The feature/bbox part of M xc does not change across iterations and is computed
 * once per item; each iteration is then a 157 x 157 update. All in float64. */
#include "nn/nn.h"

#include <stdio.h>
#include <string.h>

#define NIN (NN_FEAT + 3 + NN_NSTATE) /* 2208 */
#define NX (NN_FEAT + 3)              /* 2051 */
#define NH 1024

static cliff_status get(const nn_array *arrs, size_t n, const char *name, int64_t d0, int64_t d1,
                        const float **out) {
    const nn_array *a = nn_find(arrs, n, name);
    if (!a) return cliff_fail(CLIFF_EINVAL, "missing checkpoint key '%s'", name);
    int64_t cnt = 1;
    for (size_t i = 0; i < a->ndim; i++) cnt *= a->shape[i];
    int ok = d1 ? (a->ndim == 2 && a->shape[0] == d0 && a->shape[1] == d1) : (a->ndim == 1 && a->shape[0] == d0);
    if (!ok)
        return cliff_fail(CLIFF_EINVAL, "checkpoint key '%s' has %lld elements in %zu dims, expected shape (%lld%s%lld)",
                          name, (long long)cnt, a->ndim, (long long)d0, d1 ? ", " : "", (long long)(d1 ? d1 : 0));
    *out = a->data;
    return CLIFF_OK;
}

cliff_status nn_regressor_init(nn_regressor *r, const nn_array *arrs, size_t n) {
    memset(r, 0, sizeof *r);
    const float *W1, *b1, *W2, *b2, *Wd[3], *bd[3], *init[3];
    static const char *dec[3] = {"decpose", "decshape", "deccam"};
    static const char *ini[3] = {"init_pose", "init_shape", "init_cam"};
    static const int rows[3] = {NN_NPOSE, 10, 3};
    char key[32];
    cliff_status st;
    if ((st = get(arrs, n, "fc1.weight", NH, NIN, &W1)) || (st = get(arrs, n, "fc1.bias", NH, 0, &b1)) ||
        (st = get(arrs, n, "fc2.weight", NH, NH, &W2)) || (st = get(arrs, n, "fc2.bias", NH, 0, &b2)))
        return st;
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s.weight", dec[i]);
        if ((st = get(arrs, n, key, rows[i], NH, &Wd[i]))) return st;
        snprintf(key, sizeof key, "%s.bias", dec[i]);
        if ((st = get(arrs, n, key, rows[i], 0, &bd[i]))) return st;
        if ((st = get(arrs, n, ini[i], 1, rows[i], &init[i]))) return st;
    }
    double *A = cliff_alloc((size_t)NN_NSTATE * NH * sizeof(double)); /* Wdec W2 */
    r->Mx = cliff_alloc((size_t)NN_NSTATE * NX * sizeof(double));
    r->Ms = cliff_alloc((size_t)NN_NSTATE * NN_NSTATE * sizeof(double));
    if (!A || !r->Mx || !r->Ms) {
        cliff_free(A);
        nn_regressor_free(r);
        return cliff_fail(CLIFF_ENOMEM, "out of memory collapsing the regressor");
    }
    /* rows of Wdec / bdec, and the initial state, in state order */
    const float *wrow[NN_NSTATE];
    double brow[NN_NSTATE];
    for (int i = 0, o = 0; i < 3; i++)
        for (int k = 0; k < rows[i]; k++, o++) {
            wrow[o] = Wd[i] + (size_t)k * NH;
            brow[o] = bd[i][k];
            r->init[o] = init[i][k];
        }
#pragma omp parallel for schedule(static)
    for (int o = 0; o < NN_NSTATE; o++) {
        double *a = A + (size_t)o * NH;
        memset(a, 0, NH * sizeof(double));
        for (int h = 0; h < NH; h++) {
            double v = wrow[o][h];
            const float *w2 = W2 + (size_t)h * NH;
            for (int j = 0; j < NH; j++) a[j] += v * w2[j];
        }
        double c = brow[o];
        for (int h = 0; h < NH; h++) c += (double)wrow[o][h] * b2[h] + a[h] * b1[h];
        r->c[o] = c;
        double m[NIN];
        memset(m, 0, sizeof m);
        for (int h = 0; h < NH; h++) {
            double v = a[h];
            const float *w1 = W1 + (size_t)h * NIN;
            for (int j = 0; j < NIN; j++) m[j] += v * w1[j];
        }
        for (int k = 0; k < NX; k++) r->Mx[(size_t)k * NN_NSTATE + o] = m[k];
        for (int k = 0; k < NN_NSTATE; k++) r->Ms[(size_t)k * NN_NSTATE + o] = m[NX + k];
    }
    cliff_free(A);
    return CLIFF_OK;
}

void nn_regressor_free(nn_regressor *r) {
    cliff_free(r->Mx);
    cliff_free(r->Ms);
    r->Mx = r->Ms = NULL;
}

/* y (157) += A^T x for A^T stored (k, 157) row-major: independent lanes over the 157 outputs
 * (vectorizes without reassociating sums). Compiled for AVX-512, AVX2 and the baseline. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void gemv_t(const double *AT, int k, const double *x, double *y) {
    for (int j = 0; j < k; j++) {
        const double *a = AT + (size_t)j * NN_NSTATE;
        double v = x[j];
        for (int o = 0; o < NN_NSTATE; o++) y[o] += a[o] * v;
    }
}

void nn_regressor_run(const nn_regressor *r, const float *feat, const float *bbox, size_t n,
                      int n_iter, float *state) {
    for (size_t i = 0; i < n; i++) {
        double x[NX], base[NN_NSTATE], s[NN_NSTATE], t[NN_NSTATE];
        for (int k = 0; k < NN_FEAT; k++) x[k] = feat[i * NN_FEAT + k];
        for (int k = 0; k < 3; k++) x[NN_FEAT + k] = bbox[i * 3 + k];
        memcpy(base, r->c, sizeof base);
        gemv_t(r->Mx, NX, x, base);
        memcpy(s, r->init, sizeof s);
        for (int it = 0; it < n_iter; it++) {
            for (int o = 0; o < NN_NSTATE; o++) t[o] = s[o] + base[o];
            gemv_t(r->Ms, NN_NSTATE, s, t);
            memcpy(s, t, sizeof s);
        }
        for (int o = 0; o < NN_NSTATE; o++) state[i * NN_NSTATE + o] = (float)s[o];
    }
}
