/* fov.c - HumanFoV (CameraHMR's camera model, docs/focal.md): the full image letterboxed to
 * 256 x 256 exactly as the release prepares it, the 720-channel HRNet-W48 trunk (nn/hrnet.c)
 * with its global average pool, and the two linear layers of the head collapsed into one
 * float64 affine map (the release applies fc1 then fc3 with no activation between them; its
 * fc2 is never called). Output: the vertical field of view in radians and the focal length
 * H / (2 tan(vfov / 2)) in pixels of the original image. Facts: docs/official.md. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define S CLIFF_FOV_SIZE
#define NF CLIFF_FOV_FEATURES
#define MAX_BATCH NN_MAX_BATCH
#define FC_HIDDEN 1024
#define C48 48 /* branch 0 of HRNet-W48, the input of the unused heatmap layer */

/* ---- the release's resize_image: OpenCV INTER_AREA to fit 256, centred on white -------------- */

/* OpenCV's computeResizeAreaTab: which source pixels (and weights) make each destination one. */
typedef struct {
    int di, si;
    float alpha;
} area_tab;

static int area_table(int ssize, int dsize, int cn, double scale, area_tab *tab) {
    int k = 0;
    for (int dx = 0; dx < dsize; dx++) {
        double fsx1 = dx * scale, fsx2 = fsx1 + scale;
        double cell = scale < ssize - fsx1 ? scale : ssize - fsx1;
        int sx1 = (int)ceil(fsx1), sx2 = (int)floor(fsx2);
        if (sx2 > ssize - 1) sx2 = ssize - 1;
        if (sx1 > sx2) sx1 = sx2;
        if (sx1 - fsx1 > 1e-3) tab[k++] = (area_tab){dx * cn, (sx1 - 1) * cn, (float)((sx1 - fsx1) / cell)};
        for (int sx = sx1; sx < sx2; sx++) tab[k++] = (area_tab){dx * cn, sx * cn, (float)(1.0 / cell)};
        if (fsx2 - sx2 > 1e-3) {
            double a = fsx2 - sx2 < 1.0 ? fsx2 - sx2 : 1.0;
            tab[k++] = (area_tab){dx * cn, sx2 * cn, (float)((a < cell ? a : cell) / cell)};
        }
    }
    return k;
}

static inline uint8_t round_u8(float v) { /* saturate_cast<uchar>(float): round half to even */
    long r = lrintf(v);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* True area averaging (both scales >= 1, not both integers): float weights, rows summed in order. */
static cliff_status resize_area(const uint8_t *src, int h, int w, uint8_t *dst, int nh, int nw,
                                double sx, double sy, size_t dst_stride) {
    area_tab *xt = malloc((size_t)(2 * w + 2 * nw + 4) * sizeof *xt);
    area_tab *yt = malloc((size_t)(2 * h + 2 * nh + 4) * sizeof *yt);
    int *yofs = malloc((size_t)(nh + 1) * sizeof *yofs);
    if (!xt || !yt || !yofs) {
        free(xt), free(yt), free(yofs);
        return cliff_fail(CLIFF_ENOMEM, "out of memory resizing an image");
    }
    int nx = area_table(w, nw, 3, sx, xt), ny = area_table(h, nh, 1, sy, yt);
    for (int dy = 0, j = 0; dy <= nh; dy++) { /* yofs[dy]: first ytab entry of row dy */
        while (j < ny && yt[j].di < dy) j++;
        yofs[dy] = j;
    }
    int fail = 0;
#pragma omp parallel
    {
        float *buf = malloc((size_t)nw * 3 * 2 * sizeof(float));
        if (!buf) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int dy = 0; dy < nh; dy++) {
            if (!buf) continue;
            float *sum = buf + (size_t)nw * 3;
            for (int j = yofs[dy]; j < yofs[dy + 1]; j++) {
                const uint8_t *row = src + (size_t)yt[j].si * w * 3;
                float beta = yt[j].alpha;
                memset(buf, 0, (size_t)nw * 3 * sizeof(float));
                for (int k = 0; k < nx; k++) {
                    int di = xt[k].di, si = xt[k].si;
                    float a = xt[k].alpha;
                    float t0 = row[si] * a, t1 = row[si + 1] * a, t2 = row[si + 2] * a;
                    buf[di] = buf[di] + t0;
                    buf[di + 1] = buf[di + 1] + t1;
                    buf[di + 2] = buf[di + 2] + t2;
                }
                if (j == yofs[dy])
                    for (int x = 0; x < nw * 3; x++) sum[x] = beta * buf[x];
                else
                    for (int x = 0; x < nw * 3; x++) {
                        float t = beta * buf[x];
                        sum[x] = sum[x] + t;
                    }
            }
            uint8_t *d = dst + (size_t)dy * dst_stride;
            for (int x = 0; x < nw * 3; x++) d[x] = round_u8(sum[x]);
        }
        free(buf);
    }
    free(xt), free(yt), free(yofs);
    return fail ? cliff_fail(CLIFF_ENOMEM, "out of memory resizing an image") : CLIFF_OK;
}

/* Integer factors in both directions (OpenCV's resizeAreaFast): block sums; 2x2 blocks round
 * half up ((sum + 2) >> 2), larger ones multiply by the float reciprocal of the area. */
static void resize_area_int(const uint8_t *src, int w, uint8_t *dst, int nh, int nw, int kx, int ky,
                            size_t dst_stride) {
    const int area = kx * ky;
    const float scale = 1.f / (float)area;
#pragma omp parallel for schedule(static)
    for (int dy = 0; dy < nh; dy++)
        for (int dx = 0; dx < nw; dx++)
            for (int c = 0; c < 3; c++) {
                int s = 0;
                for (int y = 0; y < ky; y++) {
                    const uint8_t *r = src + ((size_t)(dy * ky + y) * w + (size_t)dx * kx) * 3 + c;
                    for (int x = 0; x < kx; x++) s += r[x * 3];
                }
                dst[(size_t)dy * dst_stride + (size_t)dx * 3 + c] =
                    area == 4 && kx == 2 ? (uint8_t)((s + 2) >> 2) : round_u8((float)s * scale);
            }
}

/* OpenCV's INTER_AREA when enlarging along an axis: its bilinear code with the area-mode
 * coefficients, 8-bit fixed point (coefficients x 2048, rows rounded as VResizeLinear does). */
static void area_coeffs(int d, double scale, double inv, int ssize, int *ofs, short *a, int *xmax) {
    for (int i = 0; i < d; i++) {
        int s = (int)floor(i * scale);
        float f = (float)((i + 1) - (s + 1) * inv);
        f = f <= 0 ? 0.f : f - floorf(f);
        if (s < 0) f = 0, s = 0;
        if (xmax && s + 1 >= ssize) {
            if (i < *xmax) *xmax = i;
            if (s >= ssize - 1) f = 0, s = ssize - 1;
        }
        ofs[i] = s;
        a[2 * i] = (short)lrintf((1.f - f) * 2048.f);
        a[2 * i + 1] = (short)lrintf(f * 2048.f);
    }
}

static cliff_status resize_area_up(const uint8_t *src, int h, int w, uint8_t *dst, int nh, int nw,
                                   double sx, double sy, size_t dst_stride) {
    int *xofs = malloc((size_t)(nw + nh) * sizeof(int));
    short *ax = malloc((size_t)(nw + nh) * 2 * sizeof(short));
    if (!xofs || !ax) {
        free(xofs), free(ax);
        return cliff_fail(CLIFF_ENOMEM, "out of memory resizing an image");
    }
    int *yofs = xofs + nw, xmax = nw;
    short *by = ax + 2 * nw;
    area_coeffs(nw, sx, (double)nw / w, w, xofs, ax, &xmax);
    area_coeffs(nh, sy, (double)nh / h, h, yofs, by, NULL);
#pragma omp parallel for schedule(static)
    for (int dy = 0; dy < nh; dy++) {
        int r[2] = {yofs[dy], yofs[dy] + 1};
        for (int k = 0; k < 2; k++) r[k] = r[k] < 0 ? 0 : r[k] >= h ? h - 1 : r[k];
        uint8_t *d = dst + (size_t)dy * dst_stride;
        for (int dx = 0; dx < nw; dx++)
            for (int c = 0; c < 3; c++) {
                int hv[2];
                for (int k = 0; k < 2; k++) {
                    const uint8_t *row = src + (size_t)r[k] * w * 3;
                    int s0 = xofs[dx] * 3 + c;
                    hv[k] = dx < xmax ? row[s0] * ax[2 * dx] + row[s0 + 3] * ax[2 * dx + 1] : row[s0] * 2048;
                }
                int b0 = by[2 * dy], b1 = by[2 * dy + 1];
                d[dx * 3 + c] = (uint8_t)((((b0 * (hv[0] >> 4)) >> 16) + ((b1 * (hv[1] >> 4)) >> 16) + 2) >> 2);
            }
    }
    free(xofs), free(ax);
    return CLIFF_OK;
}

cliff_status cliff_fov_letterbox_size(size_t height, size_t width, size_t *new_h, size_t *new_w) {
    if (!height || !width || height > (1u << 24) || width > (1u << 24))
        return cliff_fail(CLIFF_EINVAL, "image: expected 1..16777216 rows and columns, got %zux%zu",
                          height, width);
    double aspect = (double)width / (double)height;
    double nh = S, nw = S;
    if (aspect > 1)
        nh = S / aspect;
    else
        nw = S * aspect;
    *new_h = (size_t)nh; /* Python's int(): truncation */
    *new_w = (size_t)nw;
    if (!*new_h || !*new_w)
        return cliff_fail(CLIFF_EINVAL, "image: %zux%zu is too elongated for HumanFoV's %dx%d input "
                          "(a side would resize to 0 pixels)", height, width, S, S);
    return CLIFF_OK;
}

cliff_status cliff_fov_letterbox_u8(const uint8_t *image, size_t height, size_t width, uint8_t *out) {
    size_t nh, nw;
    cliff_status st = cliff_fov_letterbox_size(height, width, &nh, &nw);
    if (st) return st;
    if (!image || !out) return cliff_fail(CLIFF_EINVAL, "image, out: NULL");
    memset(out, 255, (size_t)S * S * 3);
    size_t y0 = (S - nh) / 2, x0 = (S - nw) / 2, stride = (size_t)S * 3;
    uint8_t *dst = out + y0 * stride + x0 * 3;
    int h = (int)height, w = (int)width;
    if (nh == height && nw == width) { /* cv::resize copies */
        for (size_t y = 0; y < nh; y++) memcpy(dst + y * stride, image + y * width * 3, width * 3);
        return CLIFF_OK;
    }
    double inv_x = (double)nw / w, inv_y = (double)nh / h, sx = 1. / inv_x, sy = 1. / inv_y;
    if (sx >= 1 && sy >= 1) {
        int kx = (int)lrint(sx), ky = (int)lrint(sy);
        if (fabs(sx - kx) < 2.220446049250313e-16 && fabs(sy - ky) < 2.220446049250313e-16) {
            resize_area_int(image, w, dst, (int)nh, (int)nw, kx, ky, stride);
            return CLIFF_OK;
        }
        return resize_area(image, h, w, dst, (int)nh, (int)nw, sx, sy, stride);
    }
    return resize_area_up(image, h, w, dst, (int)nh, (int)nw, sx, sy, stride);
}

/* letterboxed uint8 -> normalised float32 NHWC, RGB order (bgr: channels swapped). */
static void normalise(const uint8_t *box, int bgr, float *out) {
    const float *mean = cliff_imagenet_mean, *std = cliff_imagenet_std;
    for (size_t p = 0; p < (size_t)S * S; p++)
        for (int c = 0; c < 3; c++) {
            float v = (float)box[p * 3 + (bgr ? 2 - c : c)] / 255.0f;
            out[p * 3 + c] = (v - mean[c]) / std[c];
        }
}

cliff_status cliff_fov_preprocess(const uint8_t *image, size_t height, size_t width, bool bgr, float *out) {
    if (!out) return cliff_fail(CLIFF_EINVAL, "out: NULL");
    uint8_t *box = malloc((size_t)S * S * 3);
    if (!box) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    cliff_status st = cliff_fov_letterbox_u8(image, height, width, box);
    if (!st) normalise(box, bgr, out);
    free(box);
    return st;
}

/* ---- the network ------------------------------------------------------------------------- */

/* The trunk as the release's FLNet.backbone holds it: the 720-neck HRNet on 256 x 256, no regressor. */
static const nn_spec fov_spec = {.trunk = "hr48_720", .prefix = "backbone.", .h = S, .w = S};

/* ---- the file's keys: the trunk's (from its layer table), the unused heatmap layer, the head -- */

typedef char fov_key_name[NN_NAME + 24];
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static cliff_arch_key *fov_keys; /* built on first use, kept for the process */
static size_t n_fov_keys;

static void set_key(cliff_arch_key *k, fov_key_name *store, const char *name, int ndim, int64_t d0,
                    int64_t d1, int64_t d2, int64_t d3) {
    snprintf(*store, sizeof *store, "%s", name);
    k->name = *store;
    k->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < 4; i++) k->shape[i] = i < ndim ? d[i] : 0;
    k->dtype = CLIFF_DTYPE_F32;
}

static cliff_status build_fov_keys(void) {
    nn_graph g;
    cliff_status st = nn_build_spec(&g, &fov_spec);
    if (st) return st;
    cliff_arch_key *trunk = NULL;
    size_t nt = 0;
    st = nn_arch_keys(&g, &trunk, &nt);
    g_free(&g);
    if (st) return st;
    /* PyTorch order: ... stage4, final_layer, downsample_stage_1..3 (assignment order of
     * PoseHighResolutionNet.__init__), then FLNet's fc1, fc2, fc3 */
    const size_t n = nt + 8;
    cliff_arch_key *k = malloc(n * (sizeof *k + sizeof(fov_key_name)));
    if (!k) {
        free(trunk);
        return cliff_fail(CLIFF_ENOMEM, "out of memory listing HumanFoV's keys");
    }
    fov_key_name *names = (fov_key_name *)(k + n);
    size_t o = 0;
    int placed = 0;
    for (size_t i = 0; i <= nt; i++) {
        if (!placed && (i == nt || strncmp(trunk[i].name, "backbone.downsample_stage_", 26) == 0)) {
            set_key(&k[o], &names[o], "backbone.final_layer.weight", 4, 24, C48, 1, 1), o++;
            set_key(&k[o], &names[o], "backbone.final_layer.bias", 1, 24, 0, 0, 0), o++;
            placed = 1;
        }
        if (i == nt) break;
        k[o] = trunk[i];
        snprintf(names[o], sizeof names[o], "%s", trunk[i].name);
        k[o].name = names[o];
        o++;
    }
    set_key(&k[o], &names[o], "fc1.weight", 2, FC_HIDDEN, NF, 0, 0), o++;
    set_key(&k[o], &names[o], "fc1.bias", 1, FC_HIDDEN, 0, 0, 0), o++;
    set_key(&k[o], &names[o], "fc2.weight", 2, FC_HIDDEN, FC_HIDDEN, 0, 0), o++;
    set_key(&k[o], &names[o], "fc2.bias", 1, FC_HIDDEN, 0, 0, 0), o++;
    set_key(&k[o], &names[o], "fc3.weight", 2, 2, FC_HIDDEN, 0, 0), o++;
    set_key(&k[o], &names[o], "fc3.bias", 1, 2, 0, 0, 0), o++;
    free(trunk);
    fov_keys = k;
    n_fov_keys = o;
    return CLIFF_OK;
}

cliff_status cliff_fov_arch_keys(const cliff_arch_key **keys, size_t *n_keys) {
    if (!keys || !n_keys) return cliff_fail(CLIFF_EINVAL, "cliff_fov_arch_keys: keys and n_keys are required");
    pthread_mutex_lock(&keys_lock);
    cliff_status st = fov_keys ? CLIFF_OK : build_fov_keys();
    pthread_mutex_unlock(&keys_lock);
    *keys = st ? NULL : fov_keys;
    *n_keys = st ? 0 : n_fov_keys;
    return st;
}

struct cliff_fov {
    pthread_mutex_t lock;
    nn_model model;
    double M[2][NF]; /* fc3 . fc1 */
    double c[2];     /* fc3 . b1 + b3 */
    atomic_int threads;
};

static const nn_array *need(const nn_array *arrs, size_t n, const char *name, int ndim, int64_t d0, int64_t d1,
                            cliff_status *st) {
    const nn_array *a = nn_find(arrs, n, name);
    if (!a) {
        *st = cliff_fail(CLIFF_EINVAL, "HumanFoV checkpoint: key '%s' is missing", name);
        return NULL;
    }
    if ((int)a->ndim != ndim || a->shape[0] != d0 || (ndim == 2 && a->shape[1] != d1)) {
        char want[64];
        if (ndim == 2)
            snprintf(want, sizeof want, "(%lld, %lld)", (long long)d0, (long long)d1);
        else
            snprintf(want, sizeof want, "(%lld,)", (long long)d0);
        *st = cliff_fail(CLIFF_EINVAL, "HumanFoV checkpoint: '%s' has the wrong shape (expected %s)", name, want);
        return NULL;
    }
    return a;
}

cliff_status cliff_fov_create(cliff_precision precision, const cliff_array *arrays, size_t n_arrays,
                              cliff_fov **out) {
    if (!out) return cliff_fail(CLIFF_EINVAL, "cliff_fov_create: out is NULL");
    *out = NULL;
    if (precision != CLIFF_PRECISION_FP32 && precision != CLIFF_PRECISION_BF16)
        return cliff_fail(CLIFF_EINVAL, "precision: expected fp32 or bf16");
    if (precision == CLIFF_PRECISION_BF16 && !nn_bf16_supported())
        return cliff_fail(CLIFF_EINVAL, "precision 'bf16' needs a CPU with AVX-512 (oneDNN reports '%s'); use 'fp32'",
                          cliff_dnnl_isa());
    if (n_arrays && !arrays) return cliff_fail(CLIFF_EINVAL, "arrays: NULL");
    const nn_array *arrs = (const nn_array *)arrays;
    cliff_status st = CLIFF_OK;
    const nn_array *w1 = need(arrs, n_arrays, "fc1.weight", 2, FC_HIDDEN, NF, &st);
    const nn_array *b1 = w1 ? need(arrs, n_arrays, "fc1.bias", 1, FC_HIDDEN, 0, &st) : NULL;
    const nn_array *w3 = b1 ? need(arrs, n_arrays, "fc3.weight", 2, 2, FC_HIDDEN, &st) : NULL;
    const nn_array *b3 = w3 ? need(arrs, n_arrays, "fc3.bias", 1, 2, 0, &st) : NULL;
    if (!b3) return st;
    /* every key of the file must be there, nothing else (a clear error naming the first ones) */
    const cliff_arch_key *keys;
    size_t nk;
    if ((st = cliff_fov_arch_keys(&keys, &nk))) return st;
    for (size_t j = 0; j < nk; j++) {
        const nn_array *a = nn_find(arrs, n_arrays, keys[j].name);
        if (!a) return cliff_fail(CLIFF_EINVAL, "HumanFoV checkpoint: key '%s' is missing", keys[j].name);
        int ok = (int)a->ndim == keys[j].ndim || (keys[j].ndim == 0 && a->ndim == 0);
        for (int d = 0; ok && d < keys[j].ndim; d++) ok = a->shape[d] == keys[j].shape[d];
        if (!ok) return cliff_fail(CLIFF_EINVAL, "HumanFoV checkpoint: '%s' has the wrong shape", keys[j].name);
    }
    if (n_arrays != nk) return cliff_fail(CLIFF_EINVAL, "HumanFoV checkpoint: %zu entries, expected %zu "
                                          "(unexpected keys)", n_arrays, nk);
    /* the trunk gets the backbone's arrays only (its unused heatmap layer and the head left out) */
    nn_array *sub = malloc((n_arrays ? n_arrays : 1) * sizeof *sub);
    cliff_fov *f = calloc(1, sizeof *f);
    if (!sub || !f) {
        free(sub), free(f);
        return cliff_fail(CLIFF_ENOMEM, "out of memory");
    }
    size_t ns = 0;
    for (size_t i = 0; i < n_arrays; i++) {
        const char *k = arrs[i].name;
        if (strncmp(k, "fc1.", 4) == 0 || strncmp(k, "fc2.", 4) == 0 || strncmp(k, "fc3.", 4) == 0 ||
            strncmp(k, "backbone.final_layer.", 21) == 0)
            continue;
        sub[ns++] = arrs[i];
    }
    for (int j = 0; j < 2; j++) {
        double cj = b3->data[j];
        for (int h = 0; h < FC_HIDDEN; h++) cj += (double)w3->data[j * FC_HIDDEN + h] * b1->data[h];
        f->c[j] = cj;
        for (int k = 0; k < NF; k++) {
            double m = 0;
            for (int h = 0; h < FC_HIDDEN; h++) m += (double)w3->data[j * FC_HIDDEN + h] * w1->data[(size_t)h * NF + k];
            f->M[j][k] = m;
        }
    }
    omp_set_num_threads(cliff_threads());
    st = nn_model_init_spec(&f->model, &fov_spec, "HumanFoV", precision == CLIFF_PRECISION_BF16 ? NN_BF16 : NN_F32,
                            sub, ns, NULL, NULL);
    free(sub);
    if (st) {
        free(f);
        return st;
    }
    pthread_mutex_init(&f->lock, NULL);
    *out = f;
    return CLIFF_OK;
}

void cliff_fov_free(cliff_fov *f) {
    if (!f) return;
    nn_model_free(&f->model);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void cliff_fov_set_num_threads(cliff_fov *f, int n) {
    if (f) atomic_store(&f->threads, n > 0 ? n : 0);
}

int cliff_fov_get_num_threads(const cliff_fov *f) {
    int n = f ? atomic_load(&((cliff_fov *)f)->threads) : 0;
    return n > 0 ? n : cliff_threads();
}

size_t cliff_fov_weight_bytes(const cliff_fov *f) { return f ? f->model.weight_bytes : 0; }

static inline uint16_t to_bf16(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* Each image: preprocessed input (from `inputs` or made from `images`) -> raw (n, 2) head output. */
static cliff_status run(cliff_fov *f, const float *inputs, const uint8_t *const *images, const size_t *hs,
                        const size_t *ws, bool bgr, size_t n, float *raw, float *features) {
    if (!f) return cliff_fail(CLIFF_ESTATE, "the focal estimator is closed");
    if (!n) return CLIFF_OK;
    const size_t item = (size_t)S * S * 3;
    float *stage = NULL;
    uint8_t *box = NULL;
    cliff_status st = CLIFF_OK;
    if (images) {
        for (size_t i = 0; i < n; i++) {
            size_t a, b;
            if (!images[i]) return cliff_fail(CLIFF_EINVAL, "images[%zu]: NULL", i);
            if ((st = cliff_fov_letterbox_size(hs[i], ws[i], &a, &b))) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s", cliff_last_error());
                return cliff_fail(st, "images[%zu]: %s", i, msg);
            }
        }
        box = malloc(item);
        if (!box) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    }
    if (images || f->model.dt != NN_F32) {
        stage = malloc((n < MAX_BATCH ? n : MAX_BATCH) * item * sizeof(float));
        if (!stage) {
            free(box);
            return cliff_fail(CLIFF_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_lock(&f->lock);
    omp_set_num_threads(cliff_fov_get_num_threads(f));
    for (size_t i0 = 0; i0 < n && !st; i0 += MAX_BATCH) {
        size_t b = n - i0 < MAX_BATCH ? n - i0 : MAX_BATCH;
        nn_plan *p;
        if ((st = nn_model_plan(&f->model, (int)b, &p))) break;
        void *in = nn_plan_input(&f->model, p);
        const float *src = inputs ? inputs + i0 * item : stage;
        if (images) {
            float *dst = f->model.dt == NN_F32 ? (float *)in : stage;
            for (size_t k = 0; k < b && !st; k++)
                if (!(st = cliff_fov_letterbox_u8(images[i0 + k], hs[i0 + k], ws[i0 + k], box)))
                    normalise(box, bgr, dst + k * item);
            if (st) break;
        } else if (f->model.dt == NN_F32) {
            memcpy(in, src, b * item * sizeof(float));
        }
        if (f->model.dt != NN_F32) {
            uint16_t *d = in;
#pragma omp parallel for schedule(static)
            for (size_t k = 0; k < b * item; k++) d[k] = to_bf16(src[k]);
        }
        if ((st = nn_plan_run(&f->model, p))) break;
        const float *feat = nn_plan_output(&f->model, p);
        for (size_t k = 0; k < b; k++) {
            const float *x = feat + k * NF;
            if (features) memcpy(features + (i0 + k) * NF, x, NF * sizeof(float));
            for (int j = 0; j < 2; j++) {
                double v = f->c[j];
                for (int c = 0; c < NF; c++) v += f->M[j][c] * x[c];
                raw[(i0 + k) * 2 + j] = (float)v;
            }
        }
    }
    pthread_mutex_unlock(&f->lock);
    free(stage);
    free(box);
    return st;
}

cliff_status cliff_fov_run(cliff_fov *f, const float *inputs, size_t n, float *raw, float *features) {
    if (n && (!inputs || !raw)) return cliff_fail(CLIFF_EINVAL, "inputs, raw: NULL");
    return run(f, inputs, NULL, NULL, NULL, false, n, raw, features);
}

cliff_status cliff_fov_predict(cliff_fov *f, const uint8_t *const *images, const size_t *heights,
                               const size_t *widths, size_t n, bool bgr, float *vfov, float *focal) {
    if (n && (!images || !heights || !widths)) return cliff_fail(CLIFF_EINVAL, "images, heights, widths: NULL");
    float *raw = malloc((n ? n : 1) * 2 * sizeof(float));
    if (!raw) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    cliff_status st = run(f, NULL, images, heights, widths, bgr, n, raw, NULL);
    for (size_t i = 0; i < n && !st; i++) {
        float v = raw[2 * i + 1];
        if (vfov) vfov[i] = v;
        /* the release: img_h / (2 * tan(vfov / 2)) in float32 */
        if (focal) focal[i] = (float)heights[i] / (2.0f * tanf(v / 2.0f));
    }
    free(raw);
    return st;
}
