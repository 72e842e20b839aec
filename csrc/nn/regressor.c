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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NH 1024

/* The regressor's checkpoint entries, in state_dict order (the model's own buffers first). */
enum { K_INIT_POSE, K_INIT_SHAPE, K_INIT_CAM, K_FC1_W, K_FC1_B, K_FC2_W, K_FC2_B, K_DECPOSE_W,
       K_DECPOSE_B, K_DECSHAPE_W, K_DECSHAPE_B, K_DECCAM_W, K_DECCAM_B, K_COUNT };
_Static_assert(K_COUNT == NN_REG_KEYS, "NN_REG_KEYS counts the regressor's entries");
static const char *const reg_names[K_COUNT] = {
    "init_pose", "init_shape", "init_cam", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
    "decpose.weight", "decpose.bias", "decshape.weight", "decshape.bias", "deccam.weight", "deccam.bias"};

nn_head_dims nn_head_official(void) {
    nn_head_dims d = {"", NN_FEAT, CLIFF_NET_POSE6D, CLIFF_NET_BETAS};
    return d;
}

void nn_head_keys(const nn_head_dims *d, nn_key_spec *keys, char (*names)[48]) {
    const int nin = d->feat + 3 + d->npose + d->nbeta + CLIFF_NET_CAM;
    const int64_t shp[K_COUNT][2] = {
        {1, d->npose}, {1, d->nbeta}, {1, CLIFF_NET_CAM}, {NH, nin}, {NH, 0}, {NH, NH}, {NH, 0},
        {d->npose, NH}, {d->npose, 0}, {d->nbeta, NH}, {d->nbeta, 0}, {CLIFF_NET_CAM, NH}, {CLIFF_NET_CAM, 0}};
    for (int i = 0; i < K_COUNT; i++) {
        snprintf(names[i], 48, "%s%s", d->prefix, reg_names[i]);
        keys[i].name = names[i];
        keys[i].ndim = i < 3 || shp[i][1] ? 2 : 1;
        keys[i].shape[0] = shp[i][0];
        keys[i].shape[1] = shp[i][1];
    }
}

static nn_key_spec reg_keys[K_COUNT];
static char reg_key_names[K_COUNT][48];
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static void reg_keys_init(void) {
    nn_head_dims d = nn_head_official();
    nn_head_keys(&d, reg_keys, reg_key_names);
}

const nn_key_spec *nn_regressor_keys(size_t *count) {
    pthread_once(&reg_once, reg_keys_init);
    *count = K_COUNT;
    return reg_keys;
}

static cliff_status get(const nn_key_spec *keys, const nn_array *arrs, size_t n, int which, const float **out) {
    const nn_key_spec *k = &keys[which];
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
    nn_head_dims d = nn_head_official();
    return nn_regressor_init_dims(r, &d, arrs, n);
}

cliff_status nn_regressor_init_dims(nn_regressor *r, const nn_head_dims *d, const nn_array *arrs, size_t n) {
    memset(r, 0, sizeof *r);
    nn_key_spec keys[K_COUNT];
    char names[K_COUNT][48];
    nn_head_keys(d, keys, names);
    const int NS = d->npose + d->nbeta + CLIFF_NET_CAM, NX = d->feat + 3, NIN = NX + NS;
    r->d = *d;
    r->nx = NX;
    r->ns = NS;
    const float *W1, *b1, *W2, *b2, *Wd[3], *bd[3], *init[3];
    const int rows[3] = {d->npose, d->nbeta, CLIFF_NET_CAM};
    cliff_status st;
    if ((st = get(keys, arrs, n, K_FC1_W, &W1)) || (st = get(keys, arrs, n, K_FC1_B, &b1)) ||
        (st = get(keys, arrs, n, K_FC2_W, &W2)) || (st = get(keys, arrs, n, K_FC2_B, &b2)))
        return st;
    for (int i = 0; i < 3; i++)
        if ((st = get(keys, arrs, n, K_DECPOSE_W + 2 * i, &Wd[i])) || (st = get(keys, arrs, n, K_DECPOSE_B + 2 * i, &bd[i])) ||
            (st = get(keys, arrs, n, K_INIT_POSE + i, &init[i])))
            return st;
    double *A = cliff_alloc((size_t)NS * NH * sizeof(double)); /* Wdec W2 */
    r->Mx = cliff_alloc((size_t)NS * NX * sizeof(double));
    r->Ms = cliff_alloc((size_t)NS * NS * sizeof(double));
    r->c = cliff_alloc((size_t)NS * sizeof(double));
    r->init = cliff_alloc((size_t)NS * sizeof(double));
    const float **wrow = malloc((size_t)NS * sizeof *wrow);
    double *brow = malloc((size_t)NS * sizeof *brow);
    if (!A || !r->Mx || !r->Ms || !r->c || !r->init || !wrow || !brow) {
        cliff_free(A);
        free(wrow);
        free(brow);
        nn_regressor_free(r);
        return cliff_fail(CLIFF_ENOMEM, "out of memory collapsing the regressor");
    }
    /* rows of Wdec / bdec, and the initial state, in state order */
    for (int i = 0, o = 0; i < 3; i++)
        for (int k = 0; k < rows[i]; k++, o++) {
            wrow[o] = Wd[i] + (size_t)k * NH;
            brow[o] = bd[i][k];
            r->init[o] = init[i][k];
        }
    int oom = 0;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < NS; o++) {
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
        double *m = calloc((size_t)NIN, sizeof(double));
        if (!m) {
#pragma omp atomic write
            oom = 1;
            continue;
        }
        for (int h = 0; h < NH; h++) {
            double v = a[h];
            const float *w1 = W1 + (size_t)h * NIN;
            for (int j = 0; j < NIN; j++) m[j] += v * w1[j];
        }
        for (int k = 0; k < NX; k++) r->Mx[(size_t)k * NS + o] = m[k];
        for (int k = 0; k < NS; k++) r->Ms[(size_t)k * NS + o] = m[NX + k];
        free(m);
    }
    cliff_free(A);
    free(wrow);
    free(brow);
    if (oom) {
        nn_regressor_free(r);
        return cliff_fail(CLIFF_ENOMEM, "out of memory collapsing the regressor");
    }
    return CLIFF_OK;
}

void nn_regressor_free(nn_regressor *r) {
    cliff_free(r->Mx);
    cliff_free(r->Ms);
    cliff_free(r->c);
    cliff_free(r->init);
    r->Mx = r->Ms = r->c = r->init = NULL;
}

/* y (ns) += A^T x for A^T stored (k, ns) row-major: independent lanes over the ns outputs
 * (vectorizes without reassociating sums). Compiled for AVX-512, AVX2 and the baseline. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void gemv_t(const double *AT, int k, int ns, const double *x, double *y) {
    for (int j = 0; j < k; j++) {
        const double *a = AT + (size_t)j * ns;
        double v = x[j];
        for (int o = 0; o < ns; o++) y[o] += a[o] * v;
    }
}

void nn_regressor_run(const nn_regressor *r, const float *feat, const float *bbox, size_t n,
                      int n_iter, float *state) {
    const int NX = r->nx, NS = r->ns, NF = r->d.feat;
    double *x = malloc(((size_t)NX + 3 * (size_t)NS) * sizeof(double));
    if (!x) { /* a few kB: cannot fail in practice; leave the state at NaN rather than crash */
        for (size_t i = 0; i < n * (size_t)NS; i++) state[i] = __builtin_nanf("");
        return;
    }
    double *base = x + NX, *s = base + NS, *t = s + NS;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < NF; k++) x[k] = feat[i * NF + k];
        for (int k = 0; k < 3; k++) x[NF + k] = bbox[i * 3 + k];
        memcpy(base, r->c, NS * sizeof(double));
        gemv_t(r->Mx, NX, NS, x, base);
        memcpy(s, r->init, NS * sizeof(double));
        for (int it = 0; it < n_iter; it++) {
            for (int o = 0; o < NS; o++) t[o] = s[o] + base[o];
            gemv_t(r->Ms, NS, NS, s, t);
            memcpy(s, t, NS * sizeof(double));
        }
        for (int o = 0; o < NS; o++) state[i * NS + o] = (float)s[o];
    }
    free(x);
}

void nn_regressor_export(const nn_regressor *r, double *Mx, double *Ms, double *c, double *init) {
    const int NX = r->nx, NS = r->ns;
    for (int o = 0; o < NS; o++) {
        if (Mx)
            for (int k = 0; k < NX; k++) Mx[(size_t)o * NX + k] = r->Mx[(size_t)k * NS + o];
        if (Ms)
            for (int k = 0; k < NS; k++) Ms[(size_t)o * NS + k] = r->Ms[(size_t)k * NS + o];
    }
    if (c) memcpy(c, r->c, NS * sizeof(double));
    if (init) memcpy(init, r->init, NS * sizeof(double));
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
