/* regressor.c - CLIFF's iterative regressor, collapsed.
 *
 * The official regressor iterates 3 times: xc = [feat | bbox | pose | shape | cam] (2208),
 * h = fc2(fc1(xc)), state += [decpose; decshape; deccam](h). There is no nonlinearity (dropout
 * is identity at inference), so one step is state += M xc + c with
 * M = Wdec W2 W1 (157 x 2208) and c = Wdec (W2 b1 + b2) + bdec, computed once at load in
 * float64. The feature/bbox part of M xc does not change across iterations and is computed
 * once per item; each iteration is then a 157 x 157 update. All in float64. */
#include "nn/nn.h"

#include <omp.h>
#include <string.h>

#define NIN (NN_FEAT + 3 + NN_NSTATE) /* 2208 */
#define NX (NN_FEAT + 3)              /* 2051 */
#define NH 1024

/* The regressor's checkpoint entries, in state_dict order (the model's own buffers first). */
enum { K_INIT_POSE, K_INIT_SHAPE, K_INIT_CAM, K_FC1_W, K_FC1_B, K_FC2_W, K_FC2_B, K_DECPOSE_W,
       K_DECPOSE_B, K_DECSHAPE_W, K_DECSHAPE_B, K_DECCAM_W, K_DECCAM_B, K_COUNT };
static const nn_key_spec reg_keys[K_COUNT] = {
    {"init_pose", 2, {1, CLIFF_NET_POSE6D}}, {"init_shape", 2, {1, CLIFF_NET_BETAS}},
    {"init_cam", 2, {1, CLIFF_NET_CAM}},
    {"fc1.weight", 2, {NH, NIN}}, {"fc1.bias", 1, {NH, 0}},
    {"fc2.weight", 2, {NH, NH}}, {"fc2.bias", 1, {NH, 0}},
    {"decpose.weight", 2, {CLIFF_NET_POSE6D, NH}}, {"decpose.bias", 1, {CLIFF_NET_POSE6D, 0}},
    {"decshape.weight", 2, {CLIFF_NET_BETAS, NH}}, {"decshape.bias", 1, {CLIFF_NET_BETAS, 0}},
    {"deccam.weight", 2, {CLIFF_NET_CAM, NH}}, {"deccam.bias", 1, {CLIFF_NET_CAM, 0}},
};

const nn_key_spec *nn_regressor_keys(size_t *count) {
    *count = K_COUNT;
    return reg_keys;
}

static cliff_status get(const nn_array *arrs, size_t n, int which, const float **out) {
    const nn_key_spec *k = &reg_keys[which];
    const nn_array *a = nn_find(arrs, n, k->name);
    if (!a) return cliff_fail(CLIFF_EINVAL, "missing checkpoint key '%s'", k->name);
    int ok = a->ndim == (size_t)k->ndim;
    for (int i = 0; ok && i < k->ndim; i++) ok = a->shape[i] == k->shape[i];
    if (!ok) {
        int64_t cnt = 1;
        for (size_t i = 0; i < a->ndim; i++) cnt *= a->shape[i];
        return cliff_fail(CLIFF_EINVAL, "checkpoint key '%s' has %lld elements in %zu dims, expected shape (%lld%s%lld)",
                          k->name, (long long)cnt, a->ndim, (long long)k->shape[0], k->ndim == 2 ? ", " : "",
                          (long long)(k->ndim == 2 ? k->shape[1] : 0));
    }
    *out = a->data;
    return CLIFF_OK;
}

cliff_status nn_regressor_init(nn_regressor *r, const nn_array *arrs, size_t n) {
    memset(r, 0, sizeof *r);
    const float *W1, *b1, *W2, *b2, *Wd[3], *bd[3], *init[3];
    static const int rows[3] = {CLIFF_NET_POSE6D, CLIFF_NET_BETAS, CLIFF_NET_CAM};
    cliff_status st;
    if ((st = get(arrs, n, K_FC1_W, &W1)) || (st = get(arrs, n, K_FC1_B, &b1)) ||
        (st = get(arrs, n, K_FC2_W, &W2)) || (st = get(arrs, n, K_FC2_B, &b2)))
        return st;
    for (int i = 0; i < 3; i++)
        if ((st = get(arrs, n, K_DECPOSE_W + 2 * i, &Wd[i])) || (st = get(arrs, n, K_DECPOSE_B + 2 * i, &bd[i])) ||
            (st = get(arrs, n, K_INIT_POSE + i, &init[i])))
            return st;
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

void nn_regressor_export(const nn_regressor *r, double *Mx, double *Ms, double *c, double *init) {
    for (int o = 0; o < NN_NSTATE; o++) {
        if (Mx)
            for (int k = 0; k < NX; k++) Mx[(size_t)o * NX + k] = r->Mx[(size_t)k * NN_NSTATE + o];
        if (Ms)
            for (int k = 0; k < NN_NSTATE; k++) Ms[(size_t)o * NN_NSTATE + k] = r->Ms[(size_t)k * NN_NSTATE + o];
    }
    if (c) memcpy(c, r->c, sizeof r->c);
    if (init) memcpy(init, r->init, sizeof r->init);
}

cliff_status cliff_regressor_collapse(const cliff_array *arrays, size_t n_arrays, double *Mx,
                                      double *Ms, double *c, double *init) {
    if (!arrays && n_arrays) return cliff_fail(CLIFF_EINVAL, "arrays: NULL with n_arrays > 0");
    nn_regressor r;
    omp_set_num_threads(cliff_threads());
    cliff_status st = nn_regressor_init(&r, (const nn_array *)arrays, n_arrays);
    if (st) return st;
    nn_regressor_export(&r, Mx, Ms, c, init);
    nn_regressor_free(&r);
    return CLIFF_OK;
}
