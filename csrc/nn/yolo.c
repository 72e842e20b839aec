/* yolo.c - the official demo's person detector: YOLOv3 (darknet yolov3.cfg) as a layer table,
 * the darknet weights reader, the letterbox (OpenCV INTER_CUBIC for 8-bit images, reproduced
 * to the bit) and the post-processing of the PyTorch port the demo vendors (decode, objectness
 * threshold, per-class NMS, mapping back, clamping). Facts and sources: docs/detect.md. */
#define _POSIX_C_SOURCE 200809L /* pread, mmap, O_CLOEXEC */
#include "nn/nn.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Float expressions below are evaluated operation by operation in float32 (C11, no FMA
 * contraction: -std=c11 turns it off), which the bit-exact parts rely on. */

#define YOLO_SIZE 416
#define YOLO_ATTRS 85 /* x, y, w, h, objectness, 80 class scores */
#define YOLO_CLASSES 80
#define YOLO_MAX_BATCH 8

/* ---- the graph (yolov3.cfg) ------------------------------------------------------------- */

/* conv + BatchNorm + leaky ReLU 0.1 from src into a new tensor (or into `dst` with a sum,
 * the darknet shortcut: dst = leaky(bn(conv(src))) + dst). */
static int cbl(nn_graph *g, int *ci, int src, int oc, int k, int stride, int dst) {
    char name[NN_NAME], bn[NN_NAME];
    g_name(name, "conv_%d", *ci);
    g_name(bn, "bn_%d", *ci);
    (*ci)++;
    const nn_tensor *S = &g->t[src];
    int h = (S->h + 2 * (k / 2) - k) / stride + 1, w = (S->w + 2 * (k / 2) - k) / stride + 1;
    if (dst >= 0) {
        g_conv(g, name, bn, src, dst, k, stride, 0, "ls", -1);
        return dst;
    }
    int t = g_tensor(g, oc, h, w);
    g_conv(g, name, bn, src, t, k, stride, 0, "l", -1);
    return t;
}

cliff_status nn_build_yolov3(nn_graph *g) {
    static const int reps[5] = {1, 2, 8, 8, 4};
    int ci = 0, stage[5];
    g->input = g_tensor(g, 3, YOLO_SIZE, YOLO_SIZE);
    int x = cbl(g, &ci, g->input, 32, 3, 1, -1);
    /* darknet-53: per stage a stride-2 conv, then residual blocks (1x1 halving, 3x3, add) */
    for (int s = 0; s < 5 && !g->failed; s++) {
        int c = 64 << s;
        x = cbl(g, &ci, x, c, 3, 2, -1);
        for (int r = 0; r < reps[s]; r++) {
            int t = cbl(g, &ci, x, c / 2, 1, 1, -1);
            cbl(g, &ci, t, c, 3, 1, x);
        }
        stage[s] = x; /* cfg layers 4, 11, 36, 61, 74 */
    }
    /* three heads at strides 32, 16, 8; heads 2 and 3 start from the previous head's branch,
     * reduced (1x1), upsampled 2x and concatenated with stage 4 (layer 61) or 3 (layer 36) */
    int in = stage[4];
    for (int h = 0; h < 3 && !g->failed; h++) {
        int c = 512 >> h;
        int a = cbl(g, &ci, in, c, 1, 1, -1);
        a = cbl(g, &ci, a, 2 * c, 3, 1, -1);
        a = cbl(g, &ci, a, c, 1, 1, -1);
        a = cbl(g, &ci, a, 2 * c, 3, 1, -1);
        int branch = cbl(g, &ci, a, c, 1, 1, -1);
        a = cbl(g, &ci, branch, 2 * c, 3, 1, -1);
        const nn_tensor *A = &g->t[a];
        int out = g_tensor(g, 3 * YOLO_ATTRS, A->h, A->w);
        char name[NN_NAME];
        g_name(name, "conv_%d", ci++);
        g_conv(g, name, "", a, out, 1, 1, 1, "", -1);
        if (g->failed) break;
        g->t[out].is_output = 1;
        if (h == 0) g->output = out;
        if (h == 2) break;
        int r = cbl(g, &ci, branch, c / 2, 1, 1, -1);
        const nn_tensor *R = &g->t[r], *T = &g->t[stage[3 - h]];
        int up = g_tensor(g, c / 2, R->h * 2, R->w * 2);
        g_name(name, "upsample_%d", h);
        g_upsample(g, name, r, up, "", -1);
        int cat = g_tensor(g, c / 2 + T->c, T->h, T->w);
        g_name(name, "route_%d", h);
        g_concat(g, name, up, stage[3 - h], cat);
        in = cat;
    }
    return CLIFF_OK;
}

/* ---- the darknet weights file ------------------------------------------------------------- */

typedef struct {
    void *map;
    size_t len;
    nn_array *arrs;
    char (*names)[NN_NAME + 24];
    size_t n;
} yolo_file;

static void yolo_file_close(yolo_file *f) {
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->len);
    free(f->arrs);
    free(f->names);
    memset(f, 0, sizeof *f);
}

static void add_array(yolo_file *f, const char *name, int ndim, const int64_t *shape, const float *data) {
    nn_array *a = &f->arrs[f->n];
    snprintf(f->names[f->n], sizeof f->names[f->n], "%s", name);
    a->name = f->names[f->n];
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->data = data;
    f->n++;
}

/* Number of float32 values the graph's convolutions read from a darknet file. */
static size_t graph_floats(const nn_graph *g) {
    size_t n = 0;
    for (int i = 0; i < g->nl; i++) {
        const nn_layer *L = &g->l[i];
        if (L->op != OP_CONV) continue;
        size_t oc = (size_t)g->t[L->dst].c, ic = (size_t)g->t[L->src].c;
        n += (L->bn[0] ? 4 * oc : oc) + oc * ic * L->k * L->k;
    }
    return n;
}

/* Map the file, check its size against the table, name every array (darknet order per conv:
 * BatchNorm beta, gamma, mean, variance -- or the bias -- then the kernel (oc, ic, k, k)). */
static cliff_status yolo_file_open(yolo_file *f, const char *path, const nn_graph *g) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cliff_fail(CLIFF_EIO, "cannot open YOLOv3 weights '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cliff_fail(CLIFF_EIO, "YOLOv3 weights '%s': not a regular file", path);
    }
    size_t size = (size_t)sb.st_size, nf = graph_floats(g);
    int32_t hdr[3] = {0, 0, 0};
    size_t header = 20;
    if (size >= 12) {
        if (pread(fd, hdr, 12, 0) != 12) {
            close(fd);
            return cliff_fail(CLIFF_EIO, "cannot read YOLOv3 weights '%s': %s", path, strerror(errno));
        }
        /* darknet: major, minor, revision (int32), then images seen: int64 from version 0.2 */
        int wide = hdr[0] * 10 + hdr[1] >= 2 && hdr[0] < 1000 && hdr[1] < 1000;
        header = wide ? 20 : 16;
    }
    size_t expected = header + 4 * nf;
    if (size != expected) {
        close(fd);
        return cliff_fail(CLIFF_EIO,
                          "YOLOv3 weights '%s': expected %zu bytes (a %zu-byte darknet header, then "
                          "%zu float32 values for the yolov3.cfg network), found %zu bytes (%s)",
                          path, expected, header, nf, size,
                          size < expected ? "truncated, or not the yolov3.cfg network"
                                          : "too long: not the yolov3.cfg network");
    }
    f->len = size;
    f->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return cliff_fail(CLIFF_EIO, "cannot map YOLOv3 weights '%s': %s", path, strerror(errno));
    }
    size_t cap = 5 * (size_t)g->nl;
    f->arrs = calloc(cap, sizeof *f->arrs);
    f->names = calloc(cap, sizeof *f->names);
    if (!f->arrs || !f->names) {
        yolo_file_close(f);
        return cliff_fail(CLIFF_ENOMEM, "out of memory reading '%s'", path);
    }
    const float *p = (const float *)((const char *)f->map + header);
    char key[NN_NAME + 24];
    for (int i = 0; i < g->nl; i++) {
        const nn_layer *L = &g->l[i];
        if (L->op != OP_CONV) continue;
        int64_t oc = g->t[L->dst].c, ic = g->t[L->src].c, ws[4] = {oc, ic, L->k, L->k};
        if (L->bn[0]) {
            static const char *fields[4] = {"bias", "weight", "running_mean", "running_var"};
            for (int k = 0; k < 4; k++, p += oc) {
                snprintf(key, sizeof key, "%s.%s", L->bn, fields[k]);
                add_array(f, key, 1, &oc, p);
            }
        } else {
            snprintf(key, sizeof key, "%s.bias", L->name);
            add_array(f, key, 1, &oc, p);
            p += oc;
        }
        snprintf(key, sizeof key, "%s.weight", L->name);
        add_array(f, key, 4, ws, p);
        p += oc * ic * L->k * L->k;
    }
    return CLIFF_OK;
}

/* ---- letterbox: OpenCV's 8-bit INTER_CUBIC, bit for bit ------------------------------------ */

static void cubic_coeffs(float x, float c[4]) {
    const float A = -0.75f;
    c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
    c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
    c[3] = 1.f - c[0] - c[1] - c[2];
}

static int floor_f(float v) {
    int i = (int)v;
    return i - (v < (float)i);
}

static short coef_fixed(float v) { /* saturate_cast<short>(v * 2048), round half to even */
    long r = lrintf(v * 2048.f);
    return (short)(r < -32768 ? -32768 : r > 32767 ? 32767 : r);
}

static inline uint8_t sat_u8(long v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

#define CV_VEC_LANES 8 /* OpenCV's vertical pass handles 8 values at a time in float32 */

/* Resize src (h, w, 3) to dst (nh, nw, 3) with row pitch dst_pitch bytes. */
static void resize_cubic_u8(const uint8_t *src, int h, int w, uint8_t *dst, int nh, int nw,
                            size_t dst_pitch) {
    double sx_scale = 1.0 / ((double)nw / w), sy_scale = 1.0 / ((double)nh / h);
    int *xofs = malloc((size_t)nw * sizeof(int));
    short *alpha = malloc((size_t)nw * 4 * sizeof(short));
    if (!xofs || !alpha) {
        free(xofs), free(alpha);
        return;
    }
    for (int dx = 0; dx < nw; dx++) {
        float fx = (float)((dx + 0.5) * sx_scale - 0.5), c[4];
        int sx = floor_f(fx);
        fx -= (float)sx;
        cubic_coeffs(fx, c);
        xofs[dx] = sx;
        for (int k = 0; k < 4; k++) alpha[dx * 4 + k] = coef_fixed(c[k]);
    }
    const int width = nw * 3, vec_end = width >= CV_VEC_LANES ? width - width % CV_VEC_LANES : 0;
#pragma omp parallel
    {
        int *rows = malloc((size_t)4 * width * sizeof(int));
#pragma omp for schedule(static)
        for (int dy = 0; dy < nh; dy++) {
            if (!rows) continue;
            float fy = (float)((dy + 0.5) * sy_scale - 0.5), c[4];
            int sy = floor_f(fy);
            fy -= (float)sy;
            cubic_coeffs(fy, c);
            short beta[4];
            for (int k = 0; k < 4; k++) beta[k] = coef_fixed(c[k]);
            for (int k = 0; k < 4; k++) { /* horizontal pass of source row sy - 1 + k (clamped) */
                int r = sy - 1 + k;
                r = r < 0 ? 0 : r >= h ? h - 1 : r;
                const uint8_t *S = src + (size_t)r * w * 3;
                int *D = rows + (size_t)k * width;
                for (int dx = 0; dx < nw; dx++) {
                    int px[4];
                    for (int j = 0; j < 4; j++) {
                        int q = xofs[dx] - 1 + j;
                        px[j] = q < 0 ? 0 : q >= w ? w - 1 : q;
                    }
                    const short *a = alpha + dx * 4;
                    for (int ch = 0; ch < 3; ch++)
                        D[dx * 3 + ch] = S[px[0] * 3 + ch] * a[0] + S[px[1] * 3 + ch] * a[1] +
                                         S[px[2] * 3 + ch] * a[2] + S[px[3] * 3 + ch] * a[3];
                }
            }
            const int *S0 = rows, *S1 = rows + width, *S2 = rows + 2 * width, *S3 = rows + 3 * width;
            uint8_t *out = dst + (size_t)dy * dst_pitch;
            const float scale = 1.f / (2048 * 2048);
            const float b0 = beta[0] * scale, b1 = beta[1] * scale, b2 = beta[2] * scale, b3 = beta[3] * scale;
            int x = 0;
            for (; x < vec_end; x++) { /* OpenCV's SIMD path: float32, b0*S0 + (b1*S1 + (b2*S2 + b3*S3)) */
                float t3 = (float)S3[x] * b3;
                float t2 = (float)S2[x] * b2 + t3;
                float t1 = (float)S1[x] * b1 + t2;
                float t0 = (float)S0[x] * b0 + t1;
                long v = lrintf(t0);
                v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
                out[x] = sat_u8(v);
            }
            for (; x < width; x++) { /* scalar tail: integer, rounded by (v + 2^21) >> 22 */
                int v = S0[x] * beta[0] + S1[x] * beta[1] + S2[x] * beta[2] + S3[x] * beta[3];
                out[x] = sat_u8((v + (1 << 21)) >> 22);
            }
        }
        free(rows);
    }
    free(xofs);
    free(alpha);
}

/* The placement of an image of w x h in the square letterbox. */
typedef struct { int nw, nh, ox, oy; } placement;

static cliff_status letterbox_place(size_t h, size_t w, size_t size, placement *pl) {
    if (h < 1 || w < 1 || h > 1u << 20 || w > 1u << 20)
        return cliff_fail(CLIFF_EINVAL, "image: expected a size of 1..1048576 pixels per side, got %zu x %zu", w, h);
    double s = fmin((double)size / (double)w, (double)size / (double)h);
    pl->nw = (int)((double)w * s);
    pl->nh = (int)((double)h * s);
    if (pl->nw < 1 || pl->nh < 1)
        return cliff_fail(CLIFF_EINVAL, "image: %zu x %zu is too elongated for a %zu x %zu letterbox", w, h, size, size);
    pl->ox = ((int)size - pl->nw) / 2;
    pl->oy = ((int)size - pl->nh) / 2;
    return CLIFF_OK;
}

cliff_status cliff_letterbox_u8(const uint8_t *image, size_t height, size_t width, size_t size, uint8_t *out) {
    if (!image || !out) return cliff_fail(CLIFF_EINVAL, "image and out must not be NULL");
    if (size < 1 || size > 8192) return cliff_fail(CLIFF_EINVAL, "size: expected 1..8192, got %zu", size);
    placement pl;
    cliff_status st = letterbox_place(height, width, size, &pl);
    if (st) return st;
    omp_set_num_threads(cliff_threads());
    memset(out, 128, size * size * 3);
    uint8_t *dst = out + ((size_t)pl.oy * size + pl.ox) * 3;
    if ((size_t)pl.nw == width && (size_t)pl.nh == height) { /* OpenCV copies same-size images */
        for (size_t y = 0; y < height; y++) memcpy(dst + y * size * 3, image + y * width * 3, width * 3);
        return CLIFF_OK;
    }
    resize_cubic_u8(image, (int)height, (int)width, dst, pl.nh, pl.nw, size * 3);
    return CLIFF_OK;
}

/* ---- post-processing (the PyTorch port's predict_transform + write_results, CLIFF's mapping) */

static const int anchors[9][2] = {{10, 13}, {16, 30}, {33, 23}, {30, 61}, {62, 45},
                                  {59, 119}, {116, 90}, {156, 198}, {373, 326}};

typedef struct {
    float x1, y1, x2, y2, obj, score;
    int cls;
} det;

static inline float sigmoidf(float v) { return 1.f / (1.f + expf(-v)); }

static float iou_plus1(const det *a, const det *b) { /* the port's IoU: +1 on widths and heights */
    float ix1 = fmaxf(a->x1, b->x1), iy1 = fmaxf(a->y1, b->y1);
    float ix2 = fminf(a->x2, b->x2), iy2 = fminf(a->y2, b->y2);
    float iw = fmaxf(ix2 - ix1 + 1.f, 0.f), ih = fmaxf(iy2 - iy1 + 1.f, 0.f);
    float inter = iw * ih;
    float aa = (a->x2 - a->x1 + 1.f) * (a->y2 - a->y1 + 1.f);
    float ab = (b->x2 - b->x1 + 1.f) * (b->y2 - b->y1 + 1.f);
    return inter / (aa + ab - inter);
}

static int by_objectness(const void *pa, const void *pb) { /* descending; ties by row order */
    const det *a = pa, *b = pb;
    if (a->obj != b->obj) return a->obj < b->obj ? 1 : -1;
    return (a > b) - (a < b);
}

#define YOLO_ROWS (3 * (13 * 13 + 26 * 26 + 52 * 52)) /* 10647 candidate boxes per image */

/* One image: heads[k] (G_k, G_k, 255) NHWC float32 for G = 13, 26, 52. Writes up to
 * `cap` rows of 8 floats; returns the number written, or -1 when out of memory. */
static long postprocess_one(const float *const heads[3], size_t img, size_t h, size_t w,
                            const cliff_detector_params *prm, float *rows, size_t cap) {
    det *d = malloc(YOLO_ROWS * sizeof *d), *tmp = malloc(YOLO_ROWS * sizeof *tmp);
    if (!d || !tmp) {
        free(d), free(tmp);
        return -1;
    }
    size_t nd = 0;
    const float conf = prm->confidence;
    for (int k = 0; k < 3; k++) {
        int G = 13 << k, stride = YOLO_SIZE / G;
        for (int cell = 0; cell < G * G; cell++)
            for (int a = 0; a < 3; a++) {
                const float *p = heads[k] + ((size_t)cell * 3 + a) * YOLO_ATTRS;
                float obj = sigmoidf(p[4]);
                if (!(obj > conf)) continue;
                const int *an = anchors[(2 - k) * 3 + a];
                float aw = (float)((double)an[0] / stride), ah = (float)((double)an[1] / stride);
                float cx = (sigmoidf(p[0]) + (float)(cell % G)) * (float)stride;
                float cy = (sigmoidf(p[1]) + (float)(cell / G)) * (float)stride;
                float bw = (expf(p[2]) * aw) * (float)stride, bh = (expf(p[3]) * ah) * (float)stride;
                det *o = &d[nd++];
                o->x1 = cx - bw / 2, o->y1 = cy - bh / 2, o->x2 = cx + bw / 2, o->y2 = cy + bh / 2;
                o->obj = obj;
                o->score = sigmoidf(p[5]);
                o->cls = 0;
                for (int c = 1; c < YOLO_CLASSES; c++) {
                    float s = sigmoidf(p[5 + c]);
                    if (s > o->score) o->score = s, o->cls = c;
                }
            }
    }
    /* mapping back through the letterbox, float32 as the demo computes it */
    float s = fminf((float)YOLO_SIZE / (float)w, (float)YOLO_SIZE / (float)h);
    float offx = ((float)YOLO_SIZE - s * (float)w) / 2.f, offy = ((float)YOLO_SIZE - s * (float)h) / 2.f;
    size_t nout = 0;
    for (int cls = 0; cls < YOLO_CLASSES; cls++) {
        if (prm->classes == CLIFF_DETECT_PERSONS && cls > 0) break;
        size_t nc = 0;
        for (size_t i = 0; i < nd; i++)
            if (d[i].cls == cls) tmp[nc++] = d[i];
        if (!nc) continue;
        qsort(tmp, nc, sizeof *tmp, by_objectness);
        size_t kept = 0;
        for (size_t i = 0; i < nc; i++) { /* greedy: keep i, drop later boxes with IoU >= nms */
            int drop = 0;
            for (size_t j = 0; j < kept && !drop; j++) drop = !(iou_plus1(&tmp[j], &tmp[i]) < prm->nms_iou);
            if (!drop) tmp[kept++] = tmp[i];
        }
        if (prm->max_per_image && kept > prm->max_per_image) kept = prm->max_per_image;
        for (size_t i = 0; i < kept && nout < cap; i++, nout++) {
            float *r = rows + nout * 8;
            float x1 = (tmp[i].x1 - offx) / s, y1 = (tmp[i].y1 - offy) / s;
            float x2 = (tmp[i].x2 - offx) / s, y2 = (tmp[i].y2 - offy) / s;
            r[0] = (float)img;
            r[1] = fminf(fmaxf(x1, 0.f), (float)w);
            r[2] = fminf(fmaxf(y1, 0.f), (float)h);
            r[3] = fminf(fmaxf(x2, 0.f), (float)w);
            r[4] = fminf(fmaxf(y2, 0.f), (float)h);
            r[5] = tmp[i].obj;
            r[6] = tmp[i].score;
            r[7] = (float)tmp[i].cls;
        }
    }
    free(d);
    free(tmp);
    return (long)nout;
}

static cliff_status check_params(const cliff_detector_params *p) {
    if (!(p->confidence >= 0.f && p->confidence < 1.f))
        return cliff_fail(CLIFF_EINVAL, "confidence: expected a threshold in [0, 1), got %g", (double)p->confidence);
    if (!(p->nms_iou > 0.f && p->nms_iou <= 1.f))
        return cliff_fail(CLIFF_EINVAL, "nms_iou: expected a value in (0, 1], got %g", (double)p->nms_iou);
    if (p->classes != CLIFF_DETECT_PERSONS && p->classes != CLIFF_DETECT_ALL_CLASSES)
        return cliff_fail(CLIFF_EINVAL, "classes: expected CLIFF_DETECT_PERSONS or CLIFF_DETECT_ALL_CLASSES");
    if (p->precision != CLIFF_PRECISION_FP32 && p->precision != CLIFF_PRECISION_BF16)
        return cliff_fail(CLIFF_EINVAL, "precision: expected fp32 or bf16");
    return CLIFF_OK;
}

cliff_detector_params cliff_detector_default_params(void) {
    cliff_detector_params p = {CLIFF_PRECISION_FP32, 0.5f, 0.4f, CLIFF_DETECT_PERSONS, 0};
    return p;
}

size_t cliff_detector_max_rows(const cliff_detector_params *params, size_t n_images) {
    size_t per = YOLO_ROWS;
    if (params && params->max_per_image && params->max_per_image < per)
        per = params->classes == CLIFF_DETECT_PERSONS ? params->max_per_image : per;
    return per * n_images;
}

cliff_status cliff_yolo_postprocess(const float *head13, const float *head26, const float *head52,
                                    size_t n, const size_t *heights, const size_t *widths,
                                    const cliff_detector_params *params, float *rows, size_t max_rows,
                                    size_t *n_rows) {
    cliff_detector_params p = params ? *params : cliff_detector_default_params();
    cliff_status st = check_params(&p);
    if (st) return st;
    *n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        placement pl;
        if ((st = letterbox_place(heights[i], widths[i], YOLO_SIZE, &pl))) return st;
        const float *hd[3] = {head13 + i * 13 * 13 * 255, head26 + i * 26 * 26 * 255, head52 + i * 52 * 52 * 255};
        long k = postprocess_one(hd, i, heights[i], widths[i], &p, rows + *n_rows * 8, max_rows - *n_rows);
        if (k < 0) return cliff_fail(CLIFF_ENOMEM, "out of memory");
        *n_rows += (size_t)k;
    }
    return CLIFF_OK;
}

/* ---- the handle -------------------------------------------------------------------------- */

struct cliff_detector {
    pthread_mutex_t lock;
    nn_model model;
    int heads[3];
    int precision;
};

cliff_status cliff_detector_create_from_file(const char *path, const cliff_detector_params *params,
                                             cliff_detector **out) {
    *out = NULL;
    cliff_detector_params p = params ? *params : cliff_detector_default_params();
    cliff_status st = check_params(&p);
    if (st) return st;
    if (!path) return cliff_fail(CLIFF_EINVAL, "path must not be NULL");
    if (p.precision == CLIFF_PRECISION_BF16 && !nn_bf16_supported())
        return cliff_fail(CLIFF_EINVAL, "precision 'bf16' needs a CPU with AVX-512 (oneDNN reports '%s'); use 'fp32'",
                          cliff_dnnl_isa());
    omp_set_num_threads(cliff_threads());
    nn_graph g;
    memset(&g, 0, sizeof g);
    st = nn_build_yolov3(&g);
    if (!st && g.failed) st = cliff_fail(CLIFF_ENOMEM, "out of memory building YOLOv3");
    yolo_file f;
    if (!st) st = yolo_file_open(&f, path, &g);
    g_free(&g);
    if (st) return st;
    cliff_detector *d = calloc(1, sizeof *d);
    if (!d) {
        yolo_file_close(&f);
        return cliff_fail(CLIFF_ENOMEM, "out of memory");
    }
    st = nn_model_init(&d->model, "yolov3", p.precision == CLIFF_PRECISION_BF16 ? NN_BF16 : NN_F32, f.arrs, f.n, NULL, NULL);
    yolo_file_close(&f);
    if (st) {
        free(d);
        return st;
    }
    for (int t = 0, k = 0; t < d->model.g.nt && k < 3; t++)
        if (d->model.g.t[t].is_output) d->heads[k++] = t;
    d->precision = p.precision;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return CLIFF_OK;
}

void cliff_detector_free(cliff_detector *d) {
    if (!d) return;
    nn_model_free(&d->model);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

size_t cliff_detector_weight_bytes(const cliff_detector *d) { return d ? d->model.weight_bytes : 0; }

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static void store_input(void *dst, nn_dtype dt, size_t item, const float *src, size_t count) {
    if (dt == NN_F32)
        memcpy((float *)dst + item * count, src, count * sizeof(float));
    else
        for (size_t k = 0; k < count; k++) ((uint16_t *)dst)[item * count + k] = to_bf16(src[k]);
}

/* Run the network on b inputs already in the plan; copy heads if asked. */
static cliff_status run_heads(cliff_detector *d, nn_plan *p, size_t b, size_t i0, float *h13, float *h26, float *h52) {
    cliff_status st = nn_plan_run(&d->model, p);
    if (st) return st;
    float *outs[3] = {h13, h26, h52};
    for (int k = 0; k < 3; k++) {
        if (!outs[k]) continue;
        size_t per = (size_t)(13 << k) * (13 << k) * 255;
        memcpy(outs[k] + i0 * per, nn_plan_tensor(&d->model, p, d->heads[k]), b * per * sizeof(float));
    }
    return CLIFF_OK;
}

cliff_status cliff_detector_heads(cliff_detector *d, const float *input, size_t n, float *head13,
                                  float *head26, float *head52) {
    if (!d) return cliff_fail(CLIFF_ESTATE, "the detector is closed");
    if (!input) return cliff_fail(CLIFF_EINVAL, "input must not be NULL");
    const size_t count = (size_t)YOLO_SIZE * YOLO_SIZE * 3;
    cliff_status st = CLIFF_OK;
    pthread_mutex_lock(&d->lock);
    omp_set_num_threads(cliff_threads());
    for (size_t i0 = 0; i0 < n && !st; i0 += YOLO_MAX_BATCH) {
        size_t b = n - i0 < YOLO_MAX_BATCH ? n - i0 : YOLO_MAX_BATCH;
        nn_plan *p;
        if ((st = nn_model_plan(&d->model, (int)b, &p))) break;
        void *in = nn_plan_input(&d->model, p);
        for (size_t i = 0; i < b; i++) store_input(in, d->model.dt, i, input + (i0 + i) * count, count);
        st = run_heads(d, p, b, i0, head13, head26, head52);
    }
    pthread_mutex_unlock(&d->lock);
    return st;
}

cliff_status cliff_detector_detect(cliff_detector *d, const uint8_t *const *images, const size_t *heights,
                                   const size_t *widths, size_t n_images, const cliff_detector_params *params,
                                   float *rows, size_t max_rows, size_t *n_rows) {
    *n_rows = 0;
    if (!d) return cliff_fail(CLIFF_ESTATE, "the detector is closed");
    cliff_detector_params prm = params ? *params : cliff_detector_default_params();
    prm.precision = d->precision;
    cliff_status st = check_params(&prm);
    if (st) return st;
    for (size_t i = 0; i < n_images; i++) {
        placement pl;
        if (!images[i]) return cliff_fail(CLIFF_EINVAL, "images[%zu] is NULL", i);
        if ((st = letterbox_place(heights[i], widths[i], YOLO_SIZE, &pl))) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", cliff_last_error());
            return cliff_fail(CLIFF_EINVAL, "images[%zu]: %s", i, msg);
        }
    }
    const size_t count = (size_t)YOLO_SIZE * YOLO_SIZE * 3;
    uint8_t *box = malloc(count);
    float *f = malloc(count * sizeof(float));
    float *hd[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) hd[k] = malloc((size_t)YOLO_MAX_BATCH * (13 << k) * (13 << k) * 255 * sizeof(float));
    if (!box || !f || !hd[0] || !hd[1] || !hd[2]) {
        st = cliff_fail(CLIFF_ENOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_lock(&d->lock);
    omp_set_num_threads(cliff_threads());
    for (size_t i0 = 0; i0 < n_images && !st; i0 += YOLO_MAX_BATCH) {
        size_t b = n_images - i0 < YOLO_MAX_BATCH ? n_images - i0 : YOLO_MAX_BATCH;
        nn_plan *p;
        if ((st = nn_model_plan(&d->model, (int)b, &p))) break;
        void *in = nn_plan_input(&d->model, p);
        for (size_t i = 0; i < b && !st; i++) {
            if ((st = cliff_letterbox_u8(images[i0 + i], heights[i0 + i], widths[i0 + i], YOLO_SIZE, box))) break;
            for (size_t k = 0; k < count; k++) f[k] = (float)((double)box[k] / 255.0);
            store_input(in, d->model.dt, i, f, count);
        }
        if (st || (st = run_heads(d, p, b, 0, hd[0], hd[1], hd[2]))) break;
        for (size_t i = 0; i < b; i++) {
            const float *h3[3] = {hd[0] + i * 13 * 13 * 255, hd[1] + i * 26 * 26 * 255, hd[2] + i * 52 * 52 * 255};
            long k = postprocess_one(h3, i0 + i, heights[i0 + i], widths[i0 + i], &prm, rows + *n_rows * 8,
                                     max_rows - *n_rows);
            if (k < 0) {
                st = cliff_fail(CLIFF_ENOMEM, "out of memory");
                break;
            }
            *n_rows += (size_t)k;
        }
    }
    pthread_mutex_unlock(&d->lock);
done:
    free(box);
    free(f);
    for (int k = 0; k < 3; k++) free(hd[k]);
    return st;
}
