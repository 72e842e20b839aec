/* crop.c - the official CLIFF preprocessing (box -> normalised 256x192 network input) in one
 * pass per output row: the zero-padded crop window of the official code is never
 * materialised; its pixels are read from the image with the padding implied.
 *
 * Numerics (all reproduced operation by operation, see docs/crop.md):
 *  - window corners: the official affine is built in float64 and inverted by LAPACK (LU with
 *    reciprocal pivots), so its inverse translation is -c * (1/a); the corners are the
 *    half-to-even roundings of inv(T) applied to (0,0,1) and (192,256,1);
 *  - resize: OpenCV's generic float32 INTER_LINEAR (source coordinate rounded to float,
 *    x border clamping with zero weight, y rows clamped with unchanged weights, horizontal pass
 *    then vertical pass, each as two float products and one float sum), the same-size copy
 *    and the exact-2x INTER_AREA mean;
 *    with CLIFF_RESIZE_IPP, the resize of OpenCV builds with Intel IPP instead (float64 source
 *    coordinates, s0 + a*(s1 - s0) fused), which is what PyPI's OpenCV computes on x86;
 *  - normalisation: (v / 255 - mean_c) / std_c in float32 with float32 constants.
 * This file is compiled with -std=c11, where GCC does not contract a*b+c into FMAs: OpenCV's
 * products and sums must stay separately rounded (the IPP form calls fmaf explicitly). */
#include "common.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define MAX_OW 256 /* widest output crop */
#define MAX_OH 512
#define ROWS_PER_TASK 32
#define MAX_SIDE ((int64_t)1 << 24)

enum { MODE_LINEAR = 0, MODE_COPY = 1, MODE_AREA2 = 2 };

typedef struct {
    int64_t ulx, uly, w, h; /* window origin and size in image pixels */
    int mode;
    int ow, oh; /* output crop size */
    double m[6]; /* CLIFF_WINDOW_AFFINE: output pixel -> image pixel (warpAffine's inverse map) */
} window;

enum { MODE_AFFINE = 3 };
#define AFFINE_MAX ((double)(1 << 19)) /* |centre| and side limit of the affine crop (fixed point) */

static const uint8_t k_zero_pixel[3] = {0, 0, 0};

/* Corner rounding of the official code: half to even (the default rounding mode). */
static double round_even_clamped(double v) {
    const double lim = 9007199254740992.0; /* 2^53: beyond it the window is rejected anyway */
    if (!(v > -lim)) return -lim;
    if (!(v < lim)) return lim;
    return nearbyint(v);
}

/* Truncation toward zero of NumPy's astype(int), clamped like round_even_clamped. */
static double trunc_clamped(double v) {
    const double lim = 9007199254740992.0;
    if (!(v > -lim)) return -lim;
    if (!(v < lim)) return lim;
    return trunc(v);
}

/* The square window of the SPIN-style crop BEDLAM's demo uses (image_utils.crop):
 * T = [[r1/h, 0, r1 (0.5 - cx/h)], [0, r0/h, r0 (0.5 - cy/h)]] with h = 200 scale, res =
 * (r0, r1) = (oh, ow); corners inv(T) (0, 0, 1) and inv(T) (r0, r1, 1) truncated toward zero
 * (astype(int)); note the release passes res[0] as the x of the far corner. */
static void window_corners_spin(double cx, double cy, double scale, int oh, int ow, double ul[2],
                                double br[2]) {
    const double r0 = oh, r1 = ow;
    double h = 200.0 * scale;
    double a = r1 / h, c = r1 * (-cx / h + 0.5);
    double b = r0 / h, d = r0 * (-cy / h + 0.5);
    double ia = 1.0 / a, ib = 1.0 / b;
    double tx = -c * ia, ty = -d * ib;
    ul[0] = trunc_clamped(tx);
    ul[1] = trunc_clamped(ty);
    br[0] = trunc_clamped(ia * r0 + tx);
    br[1] = trunc_clamped(ib * r1 + ty);
}

static void window_corners(double cx, double cy, double scale, double ul[2], double br[2]) {
    /* T = [[a, 0, c], [0, b, d], [0, 0, 1]] as the official get_transform builds it. */
    const double H = CLIFF_CROP_HEIGHT, W = CLIFF_CROP_WIDTH, aspect = H / W;
    double h = 200.0 * scale;
    double w = h / aspect;
    double a = W / w, c = W * (-cx / w + 0.5);
    double b = H / h, d = H * (-cy / h + 0.5);
    /* inv(T) as LAPACK's getrf/getrs give it: reciprocal diagonal, then a product. */
    double ia = 1.0 / a, ib = 1.0 / b;
    double tx = -c * ia, ty = -d * ib;
    ul[0] = round_even_clamped(tx);
    ul[1] = round_even_clamped(ty);
    br[0] = round_even_clamped(ia * 192.0 + tx);
    br[1] = round_even_clamped(ib * 256.0 + ty);
}

void cliff_crop_window(const double *center, const double *scale, size_t n, int64_t *ulbr) {
    for (size_t i = 0; i < n; i++) {
        double ul[2], br[2];
        window_corners(center[2 * i], center[2 * i + 1], scale[i], ul, br);
        ulbr[4 * i + 0] = (int64_t)ul[0];
        ulbr[4 * i + 1] = (int64_t)ul[1];
        ulbr[4 * i + 2] = (int64_t)br[0];
        ulbr[4 * i + 3] = (int64_t)br[1];
    }
}

/* cv::solve(DECOMP_LU) on the 6 x 6 system of cv::getAffineTransform: Gaussian elimination
 * with partial pivoting (row swaps on a strictly larger |pivot|), rows updated with
 * alpha = a[j][i] * (-1 / a[i][i]), back substitution dividing by the pivot. */
static void lu_solve6(double a[6][6], double b[6]) {
    for (int i = 0; i < 6; i++) {
        int k = i;
        for (int j = i + 1; j < 6; j++)
            if (fabs(a[j][i]) > fabs(a[k][i])) k = j;
        if (k != i) {
            for (int c = 0; c < 6; c++) {
                double t = a[i][c];
                a[i][c] = a[k][c];
                a[k][c] = t;
            }
            double t = b[i];
            b[i] = b[k];
            b[k] = t;
        }
        double d = -1.0 / a[i][i];
        for (int j = i + 1; j < 6; j++) {
            double alpha = a[j][i] * d;
            for (int c = i + 1; c < 6; c++) a[j][c] += alpha * a[i][c];
            b[j] += alpha * b[i];
        }
    }
    for (int i = 5; i >= 0; i--) {
        double s = b[i];
        for (int c = i + 1; c < 6; c++) s -= a[i][c] * b[c];
        b[i] = s / a[i][i];
    }
}

/* A value rounded to float32 and kept so: the volatile store makes the rounding happen
 * (GCC 12 at -O3 was seen to keep the double value of a float array element here). */
static float f32(double v) {
    volatile float f = (float)v;
    return f;
}

/* mmhuman3d's get_affine_transform(c, (S, S), 0, (ow, oh)) and warpAffine's inversion of it. */
static void affine_map(double cx, double cy, double side, int ow, int oh, double m[6]) {
    /* float32 points: centre, centre + (0, -S/2), and the third point b + (-(a-b)_y, (a-b)_x),
     * every step rounded to float32 as NumPy float32 arrays do */
    float src[3][2], dst[3][2];
    src[0][0] = f32(cx);
    src[0][1] = f32(cy);
    src[1][0] = f32(cx + 0.0);
    src[1][1] = f32(cy + side * -0.5);
    float dx = f32(src[0][0] - src[1][0]), dy = f32(src[0][1] - src[1][1]);
    src[2][0] = f32(src[1][0] - dy);
    src[2][1] = f32(src[1][1] + dx);
    dst[0][0] = f32(ow * 0.5);
    dst[0][1] = f32(oh * 0.5);
    dst[1][0] = f32(ow * 0.5 + 0.0);
    dst[1][1] = f32(oh * 0.5 + ow * -0.5);
    dx = f32(dst[0][0] - dst[1][0]), dy = f32(dst[0][1] - dst[1][1]);
    dst[2][0] = f32(dst[1][0] - dy);
    dst[2][1] = f32(dst[1][1] + dx);
    double a[6][6] = {{0}}, b[6];
    for (int k = 0; k < 3; k++) {
        a[2 * k][0] = a[2 * k + 1][3] = src[k][0];
        a[2 * k][1] = a[2 * k + 1][4] = src[k][1];
        a[2 * k][2] = a[2 * k + 1][5] = 1;
        b[2 * k] = dst[k][0];
        b[2 * k + 1] = dst[k][1];
    }
    lu_solve6(a, b);
    /* warpAffine without WARP_INVERSE_MAP inverts the 2 x 3 map */
    double M[6];
    memcpy(M, b, sizeof M);
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1.0 / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D;
    M[0] = A11;
    M[1] *= -D;
    M[3] *= -D;
    M[4] = A22;
    double b1 = -M[0] * M[2] - M[1] * M[5];
    double b2 = -M[3] * M[2] - M[4] * M[5];
    M[2] = b1;
    M[5] = b2;
    memcpy(m, M, sizeof M);
}

static cliff_status make_window(double cx, double cy, double scale, size_t i, const char *what,
                                const cliff_crop_params *p, window *win) {
    if (!isfinite(cx) || !isfinite(cy) || !isfinite(scale))
        return cliff_fail(CLIFF_EINVAL, "%s[%zu]: centre and scale must be finite", what, i);
    if (!(scale > 0))
        return cliff_fail(CLIFF_EINVAL, "%s[%zu]: degenerate box (scale %g; width and height "
                          "are both zero)", what, i, scale);
    if (p->window == CLIFF_WINDOW_AFFINE) {
        double side = 200.0 * scale;
        if (!(side >= 1))
            return cliff_fail(CLIFF_EINVAL, "%s[%zu]: box too small for the affine crop (side %g pixels, "
                              "at least 1)", what, i, side);
        if (side > AFFINE_MAX || fabs(cx) > AFFINE_MAX || fabs(cy) > AFFINE_MAX)
            return cliff_fail(CLIFF_EINVAL, "%s[%zu]: box too large or too far outside for the affine crop "
                              "(side and centre at most 2^19 pixels; OpenCV's fixed point overflows)", what, i);
        memset(win, 0, sizeof *win);
        win->ow = p->out_width;
        win->oh = p->out_height;
        win->mode = MODE_AFFINE;
        affine_map(cx, cy, side, win->ow, win->oh, win->m);
        return CLIFF_OK;
    }
    double ul[2], br[2];
    const int OW = p->out_width ? p->out_width : CLIFF_CROP_WIDTH, OH = p->out_height ? p->out_height : CLIFF_CROP_HEIGHT;
    if (p->window == CLIFF_WINDOW_SQUARE)
        window_corners_spin(cx, cy, scale, OH, OW, ul, br);
    else
        window_corners(cx, cy, scale, ul, br);
    double w = br[0] - ul[0], h = br[1] - ul[1];
    if (!(w >= 1 && h >= 1))
        return cliff_fail(CLIFF_EINVAL, "%s[%zu]: box too small, its crop window is empty "
                          "(%.0f x %.0f pixels; the official code fails on it too)", what, i,
                          w, h);
    if (w > (double)MAX_SIDE || h > (double)MAX_SIDE)
        return cliff_fail(CLIFF_EINVAL, "%s[%zu]: box too large, its crop window is %.0f x %.0f "
                          "pixels (at most 2^24 per side)", what, i, w, h);
    win->ulx = (int64_t)ul[0];
    win->uly = (int64_t)ul[1];
    win->w = (int64_t)w;
    win->h = (int64_t)h;
    win->ow = OW;
    win->oh = OH;
    win->mode = (win->w == OW && win->h == OH)           ? MODE_COPY
                : (win->w == 2 * OW && win->h == 2 * OH) ? MODE_AREA2
                                                          : MODE_LINEAR;
    return CLIFF_OK;
}

void cliff_boxes_to_center_scale_square_f64(const double *xyxy, size_t n, double rescale,
                                            double *center, double *scale) {
    for (size_t i = 0; i < n; i++) {
        const double *b = xyxy + 4 * i;
        double w = b[2] - b[0], h = b[3] - b[1];
        center[2 * i] = b[0] + w / 2.0;
        center[2 * i + 1] = b[1] + h / 2.0;
        scale[i] = (w > h ? w : h) * rescale / 200.0;
    }
}

cliff_status cliff_crop_check_window(double cx, double cy, double scale, const cliff_crop_params *p,
                                     const char *what, size_t i) {
    window w;
    return make_window(cx, cy, scale, i, what, p, &w);
}

cliff_status cliff_crop_check_box(double cx, double cy, double scale, const char *what, size_t i) {
    window w;
    const cliff_crop_params p = cliff_crop_default_params();
    return make_window(cx, cy, scale, i, what, &p, &w);
}

typedef struct {
    const uint8_t *image;
    int64_t height, width;
    int chan[3]; /* source channel of output channel k (RGB order) */
    int nhwc, ipp;
} source;

/* Pixel of the zero-padded window at window row r, column c. */
static inline const uint8_t *window_pixel(const source *s, const window *win, int64_t r,
                                          int64_t c) {
    int64_t y = win->uly + r, x = win->ulx + c;
    if (y < 0 || y >= s->height || x < 0 || x >= s->width) return k_zero_pixel;
    return s->image + (y * s->width + x) * 3;
}

static inline void store_row(const source *s, const window *win, const float *v, size_t i, int dy,
                             float *out) {
    /* v: one output row, ow pixels x 3 channels (RGB), values 0..255 -> normalised. */
    const int CW = win->ow, CH = win->oh;
    float nv[MAX_OW * 3];
    for (int x = 0; x < CW; x++)
        for (int k = 0; k < 3; k++) nv[x * 3 + k] = (v[x * 3 + k] / 255.0f - cliff_imagenet_mean[k]) / cliff_imagenet_std[k];
    if (s->nhwc) {
        memcpy(out + ((i * CH + (size_t)dy) * CW) * 3, nv, sizeof(float) * 3 * (size_t)CW);
    } else {
        for (int k = 0; k < 3; k++) {
            float *o = out + ((i * 3 + (size_t)k) * CH + (size_t)dy) * CW;
            for (int x = 0; x < CW; x++) o[x] = nv[x * 3 + k];
        }
    }
}

static void rows_copy(const source *s, const window *win, size_t i, int y0, int y1, float *out) {
    const int CW = win->ow;
    float v[MAX_OW * 3];
    for (int dy = y0; dy < y1; dy++) {
        for (int x = 0; x < CW; x++) {
            const uint8_t *p = window_pixel(s, win, dy, x);
            for (int k = 0; k < 3; k++) v[x * 3 + k] = (float)p[s->chan[k]];
        }
        store_row(s, win, v, i, dy, out);
    }
}

/* OpenCV switches INTER_LINEAR to INTER_AREA for an exact 2x shrink: the mean of each 2x2
 * block, summed in the order (0,0) (0,1) (1,0) (1,1) and scaled by 0.25f (exact here). */
static void rows_area2(const source *s, const window *win, size_t i, int y0, int y1, float *out) {
    const int CW = win->ow;
    float v[MAX_OW * 3];
    for (int dy = y0; dy < y1; dy++) {
        for (int x = 0; x < CW; x++) {
            const uint8_t *p00 = window_pixel(s, win, 2 * dy, 2 * x);
            const uint8_t *p01 = window_pixel(s, win, 2 * dy, 2 * x + 1);
            const uint8_t *p10 = window_pixel(s, win, 2 * dy + 1, 2 * x);
            const uint8_t *p11 = window_pixel(s, win, 2 * dy + 1, 2 * x + 1);
            for (int k = 0; k < 3; k++) {
                int c = s->chan[k];
                float sum = (float)p00[c] + (float)p01[c];
                sum += (float)p10[c];
                sum += (float)p11[c];
                v[x * 3 + k] = sum * 0.25f;
            }
        }
        store_row(s, win, v, i, dy, out);
    }
}

typedef struct {
    int64_t off0[MAX_OW], off1[MAX_OW]; /* byte offset of the two source pixels in an image row, -1 = pad */
    float a0[MAX_OW], a1[MAX_OW];
} xtable;

/* Source coordinate of output index d: OpenCV's own code rounds it to float and takes the
 * float fraction (scale = 1 / inv_scale); IPP keeps it in double (scale = src / dst) and
 * rounds only the fraction. */
static inline void source_coord(int ipp, int d, int64_t src, int dst, int64_t *si, float *frac) {
    if (ipp) {
        double f = (d + 0.5) * ((double)src / (double)dst) - 0.5;
        double fl = floor(f);
        *si = (int64_t)fl;
        *frac = (float)(f - fl);
    } else {
        float f = (float)((d + 0.5) * (1.0 / ((double)dst / (double)src)) - 0.5);
        *si = (int64_t)floorf(f);
        *frac = f - (float)*si;
    }
}

static void make_xtable(const source *s, const window *win, xtable *t) {
    const int CW = win->ow;
    for (int dx = 0; dx < CW; dx++) {
        int64_t sx;
        float fx;
        source_coord(s->ipp, dx, win->w, CW, &sx, &fx);
        if (sx < 0) fx = 0, sx = 0;
        if (sx >= win->w - 1) fx = 0, sx = win->w - 1;
        int64_t sx1 = sx + 1 < win->w ? sx + 1 : sx; /* weight 0 when clamped */
        int64_t x0 = win->ulx + sx, x1 = win->ulx + sx1;
        t->off0[dx] = x0 >= 0 && x0 < s->width ? x0 * 3 : -1;
        t->off1[dx] = x1 >= 0 && x1 < s->width ? x1 * 3 : -1;
        t->a0[dx] = 1.0f - fx;
        t->a1[dx] = fx;
    }
}

/* The source row under window row r, or NULL (and h zeroed: the row lies outside the image). */
static const uint8_t *window_row(const source *s, const window *win, int64_t r, float *h) {
    int64_t y = win->uly + r;
    if (y < 0 || y >= s->height) {
        memset(h, 0, sizeof(float) * win->ow * 3);
        return NULL;
    }
    return s->image + y * s->width * 3;
}

/* Horizontal pass of one window row: h = S0*a0 + S1*a1 per channel (RGB order). */
static void hrow(const source *s, const window *win, const xtable *t, int64_t r, float *h) {
    const int CW = win->ow;
    const uint8_t *row = window_row(s, win, r, h);
    if (!row) return;
    const int c0 = s->chan[0], c1 = s->chan[1], c2 = s->chan[2];
    for (int dx = 0; dx < CW; dx++) {
        const uint8_t *p0 = t->off0[dx] >= 0 ? row + t->off0[dx] : k_zero_pixel;
        const uint8_t *p1 = t->off1[dx] >= 0 ? row + t->off1[dx] : k_zero_pixel;
        float a0 = t->a0[dx], a1 = t->a1[dx];
        float m0, m1;
        m0 = (float)p0[c0] * a0; m1 = (float)p1[c0] * a1; h[dx * 3 + 0] = m0 + m1;
        m0 = (float)p0[c1] * a0; m1 = (float)p1[c1] * a1; h[dx * 3 + 1] = m0 + m1;
        m0 = (float)p0[c2] * a0; m1 = (float)p1[c2] * a1; h[dx * 3 + 2] = m0 + m1;
    }
}

/* IPP's form of both passes: s0 + a*(s1 - s0) as one fused multiply-add. target_clones
 * gives an FMA-instruction version and a default one (libm's correctly rounded fmaf). */
__attribute__((target_clones("fma", "default")))
static void hrow_ipp(const source *s, const window *win, const xtable *t, int64_t r, float *h) {
    const int CW = win->ow;
    const uint8_t *row = window_row(s, win, r, h);
    if (!row) return;
    for (int dx = 0; dx < CW; dx++) {
        const uint8_t *p0 = t->off0[dx] >= 0 ? row + t->off0[dx] : k_zero_pixel;
        const uint8_t *p1 = t->off1[dx] >= 0 ? row + t->off1[dx] : k_zero_pixel;
        float a = t->a1[dx];
        for (int k = 0; k < 3; k++) {
            float v0 = (float)p0[s->chan[k]], v1 = (float)p1[s->chan[k]];
            h[dx * 3 + k] = fmaf(a, v1 - v0, v0);
        }
    }
}

__attribute__((target_clones("fma", "default")))
static void vrow_ipp(const float *h0, const float *h1, float b, float *v, int CW) {
    for (int k = 0; k < CW * 3; k++) v[k] = fmaf(b, h1[k] - h0[k], h0[k]);
}

static void rows_linear(const source *s, const window *win, size_t i, int y0, int y1,
                        float *out) {
    const int CW = win->ow, CH = win->oh;
    xtable t;
    make_xtable(s, win, &t);
    float buf[2][MAX_OW * 3], v[MAX_OW * 3];
    int64_t cached[2] = {-1, -1};
    for (int dy = y0; dy < y1; dy++) {
        int64_t sy;
        float fy;
        source_coord(s->ipp, dy, win->h, CH, &sy, &fy);
        /* both rows clamped into the window; the weights are kept (OpenCV) */
        int64_t r0 = sy < 0 ? 0 : sy >= win->h ? win->h - 1 : sy;
        int64_t r1 = sy + 1 < 0 ? 0 : sy + 1 >= win->h ? win->h - 1 : sy + 1;
        float b0 = 1.0f - fy, b1 = fy;
        int s0 = cached[0] == r0 ? 0 : cached[1] == r0 ? 1 : -1;
        if (s0 < 0) {
            s0 = cached[0] == r1 ? 1 : 0;
            (s->ipp ? hrow_ipp : hrow)(s, win, &t, r0, buf[s0]);
            cached[s0] = r0;
        }
        int s1 = cached[0] == r1 ? 0 : cached[1] == r1 ? 1 : -1;
        if (s1 < 0) {
            s1 = 1 - s0;
            (s->ipp ? hrow_ipp : hrow)(s, win, &t, r1, buf[s1]);
            cached[s1] = r1;
        }
        const float *h0 = buf[s0], *h1 = buf[s1];
        if (s->ipp) {
            vrow_ipp(h0, h1, b1, v, CW);
        } else {
            for (int k = 0; k < CW * 3; k++) {
                float m0 = h0[k] * b0, m1 = h1[k] * b1;
                v[k] = m0 + m1;
            }
        }
        store_row(s, win, v, i, dy, out);
    }
}

/* ---- mmhuman3d's affine crop: OpenCV 4.x warpAffine, uint8, INTER_LINEAR, zero border ----
 * Per output pixel (x, y): X = (round((m1 y + m2) 1024) + 16 + round(m0 x 1024)) >> 5 in
 * 1/32 pixels (likewise Y with m4, m5, m3), source pixel (X >> 5, Y >> 5) saturated to int16,
 * fractions fx = X & 31, fy = Y & 31; weights 32 * [(32-fy)(32-fx), (32-fy) fx, fy (32-fx),
 * fy fx] (sum 2^15); value (sum w v + 2^14) >> 15 (pixels outside the image are 0). Rounding
 * of double to int: half to even (cvRound). */
static inline int64_t sat_round(double v) {
    if (!(v > -2147483648.0)) return INT32_MIN;
    if (!(v < 2147483647.0)) return INT32_MAX;
    return (int64_t)nearbyint(v);
}

static inline int64_t floor_shift5(int64_t v) { return v >= 0 ? v >> 5 : -((-v + 31) >> 5); }

static void rows_affine(const source *s, const window *win, size_t i, int y0, int y1, float *out) {
    const int CW = win->ow;
    const double *m = win->m;
    float v[MAX_OW * 3];
    for (int dy = y0; dy < y1; dy++) {
        int64_t X0 = sat_round((m[1] * dy + m[2]) * 1024) + 16, Y0 = sat_round((m[4] * dy + m[5]) * 1024) + 16;
        for (int dx = 0; dx < CW; dx++) {
            int64_t X = floor_shift5(X0 + sat_round(m[0] * dx * 1024)), Y = floor_shift5(Y0 + sat_round(m[3] * dx * 1024));
            int64_t sx = floor_shift5(X), sy = floor_shift5(Y);
            int fx = (int)(X - sx * 32), fy = (int)(Y - sy * 32);
            if (sx < -32768) sx = -32768;
            if (sx > 32767) sx = 32767;
            if (sy < -32768) sy = -32768;
            if (sy > 32767) sy = 32767;
            const int w[4] = {32 * (32 - fy) * (32 - fx), 32 * (32 - fy) * fx, 32 * fy * (32 - fx), 32 * fy * fx};
            const uint8_t *p[4];
            for (int q = 0; q < 4; q++) {
                int64_t yy = sy + (q >> 1), xx = sx + (q & 1);
                p[q] = yy >= 0 && yy < s->height && xx >= 0 && xx < s->width ? s->image + (yy * s->width + xx) * 3
                                                                             : k_zero_pixel;
            }
            for (int k = 0; k < 3; k++) {
                int c = s->chan[k];
                int acc = p[0][c] * w[0] + p[1][c] * w[1] + p[2][c] * w[2] + p[3][c] * w[3];
                int r = (acc + (1 << 14)) >> 15;
                v[dx * 3 + k] = (float)(r > 255 ? 255 : r);
            }
        }
        store_row(s, win, v, i, dy, out);
    }
}

/* ---- scikit-image's transform.resize (BEDLAM's demo crop) ---------------------------------
 * resize(canvas, (oh, ow)) with its defaults on the float64 zero-padded window: per axis
 * f = window / output; when any axis shrinks, ndimage.gaussian_filter with sigma
 * max(0, (f - 1)/2) per axis (an axis with sigma <= 1e-15 is skipped), radius
 * int(4 sigma + 0.5), weights exp(-x^2 / (2 sigma^2)) / their sum, 'mirror' borders (skimage's
 * 'reflect'); then ndimage.zoom(order=1, grid_mode=True, mode='mirror'): source coordinate
 * (d + 0.5) f - 0.5 mirrored into [0, n - 1], linear weights. Both are linear in the window, so
 * one output row is sum_m wy_m row(mirror(m)) followed by the same along x, computed in
 * float64 and rounded to float once. The final clip to the window's range is a no-op: every
 * weight is positive and they sum to 1. Work per output row: (2R + 2) window rows. */

/* Index m of an axis of n samples extended by mirroring (ndimage 'mirror': ... 2 1 | 0 1 2 ...). */
static inline int64_t mirror_index(int64_t m, int64_t n) {
    if (n == 1) return 0;
    const int64_t period = 2 * n - 2;
    m %= period;
    if (m < 0) m += period;
    return m >= n ? period - m : m;
}

typedef struct {
    int64_t n;   /* window samples along the axis */
    int radius;  /* Gaussian radius R (0: no filter) */
    double *k;   /* 2R + 1 weights */
} aa_axis;

static cliff_status aa_axis_init(aa_axis *a, int64_t n, int out) {
    a->n = n;
    a->k = NULL;
    double f = (double)n / (double)out, sigma = (f - 1.0) / 2.0;
    a->radius = 0;
    if (sigma > 1e-15) a->radius = (int)(4.0 * sigma + 0.5);
    a->k = cliff_alloc(sizeof(double) * (size_t)(2 * a->radius + 1));
    if (!a->k) return CLIFF_ENOMEM;
    if (a->radius == 0 && !(sigma > 1e-15)) {
        a->k[0] = 1.0;
        return CLIFF_OK;
    }
    double sum = 0, s2 = sigma * sigma;
    for (int j = -a->radius; j <= a->radius; j++) sum += a->k[j + a->radius] = exp(-0.5 / s2 * (double)j * (double)j);
    for (int j = 0; j <= 2 * a->radius; j++) a->k[j] /= sum;
    return CLIFF_OK;
}

/* Linear sampling position of output index d: window index i0 and weight t of i0 + 1. */
static inline void zoom_coord(int d, int64_t n, int out, int64_t *i0, double *t) {
    double zoom = (double)n / (double)out;
    double cc = ((double)d + 0.5) * zoom - 0.5;
    if (n <= 1) cc = 0;
    else if (cc < 0) cc = -cc;
    else if (cc > (double)(n - 1)) cc = 2.0 * (double)(n - 1) - cc;
    double fl = floor(cc);
    *i0 = (int64_t)fl;
    *t = cc - fl;
}

/* Weight of window index i0 + o (o = -R .. R + 1) in (1 - t) G(i0) + t G(i0 + 1). */
static inline double zoom_weight(const aa_axis *a, int o, double t) {
    const int R = a->radius;
    double w = 0;
    if (o <= R) w += (1.0 - t) * a->k[o + R];
    if (o - 1 >= -R) w += t * a->k[o - 1 + R];
    return w;
}

static cliff_status rows_skimage(const source *s, const window *win, size_t i, int y0, int y1,
                                 float *out) {
    const int CW = win->ow, CH = win->oh;
    /* image columns the window covers: [c0, c1) in window coordinates */
    const int64_t c0 = win->ulx < 0 ? -win->ulx : 0;
    const int64_t c1 = win->ulx + win->w > s->width ? s->width - win->ulx : win->w;
    aa_axis ax, ay;
    cliff_status st = aa_axis_init(&ax, win->w, CW);
    if (!st) st = aa_axis_init(&ay, win->h, CH);
    else ay.k = NULL;
    double *tmp = c1 > c0 ? cliff_alloc(sizeof(double) * 3 * (size_t)(c1 - c0)) : NULL;
    if (st || (c1 > c0 && !tmp)) {
        cliff_free(ax.k);
        cliff_free(ay.k);
        cliff_free(tmp);
        return CLIFF_ENOMEM;
    }
    float v[MAX_OW * 3];
    for (int dy = y0; dy < y1; dy++) {
        int64_t i0;
        double t;
        zoom_coord(dy, win->h, CH, &i0, &t);
        if (c1 > c0) memset(tmp, 0, sizeof(double) * 3 * (size_t)(c1 - c0));
        for (int o = -ay.radius; o <= ay.radius + 1 && c1 > c0; o++) {
            double w = zoom_weight(&ay, o, t);
            if (w == 0) continue;
            int64_t y = win->uly + mirror_index(i0 + o, win->h);
            if (y < 0 || y >= s->height) continue;
            const uint8_t *row = s->image + (y * s->width + win->ulx + c0) * 3;
            for (int64_t c = 0; c < c1 - c0; c++)
                for (int k = 0; k < 3; k++) tmp[3 * c + k] += w * (double)row[3 * c + s->chan[k]];
        }
        for (int dx = 0; dx < CW; dx++) {
            int64_t j0;
            double tx;
            zoom_coord(dx, win->w, CW, &j0, &tx);
            double acc[3] = {0, 0, 0};
            for (int o = -ax.radius; o <= ax.radius + 1; o++) {
                double w = zoom_weight(&ax, o, tx);
                if (w == 0) continue;
                int64_t c = mirror_index(j0 + o, win->w);
                if (c < c0 || c >= c1) continue;
                const double *p = tmp + 3 * (c - c0);
                acc[0] += w * p[0];
                acc[1] += w * p[1];
                acc[2] += w * p[2];
            }
            for (int k = 0; k < 3; k++) v[dx * 3 + k] = (float)acc[k];
        }
        store_row(s, win, v, i, dy, out);
    }
    cliff_free(ax.k);
    cliff_free(ay.k);
    cliff_free(tmp);
    return CLIFF_OK;
}

static cliff_status crop_windows(const uint8_t *image, size_t height, size_t width,
                                 const window *wins, size_t n, const cliff_crop_params *p,
                                 float *out) {
    source s = {image, (int64_t)height, (int64_t)width, {0, 1, 2},
                p->layout == CLIFF_LAYOUT_NHWC_F32,
                p->resize == CLIFF_RESIZE_IPP || (p->resize == CLIFF_RESIZE_AUTO && p->window != CLIFF_WINDOW_SQUARE)};
    if (p->bgr) s.chan[0] = 2, s.chan[2] = 0;
    const int skimage = p->resize == CLIFF_RESIZE_SKIMAGE ||
                        (p->resize == CLIFF_RESIZE_AUTO && p->window == CLIFF_WINDOW_SQUARE);
    const int CH = p->out_height ? p->out_height : CLIFF_CROP_HEIGHT;
    int failed = 0;
    const int per = (CH + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    const long long tasks = (long long)n * per;
    omp_set_num_threads(cliff_threads());
#pragma omp parallel for schedule(dynamic, 1)
    for (long long task = 0; task < tasks; task++) {
        size_t i = (size_t)(task / per);
        int y0 = (int)(task % per) * ROWS_PER_TASK, y1 = y0 + ROWS_PER_TASK < CH ? y0 + ROWS_PER_TASK : CH;
        const window *win = &wins[i];
        if (win->mode == MODE_AFFINE) {
            rows_affine(&s, win, i, y0, y1, out);
        } else if (skimage) {
            if (rows_skimage(&s, win, i, y0, y1, out)) {
#pragma omp atomic write
                failed = 1;
            }
        } else if (win->mode == MODE_COPY) rows_copy(&s, win, i, y0, y1, out);
        else if (win->mode == MODE_AREA2) rows_area2(&s, win, i, y0, y1, out);
        else rows_linear(&s, win, i, y0, y1, out);
    }
    if (failed) return cliff_fail(CLIFF_ENOMEM, "crop: out of memory for the anti-aliasing filter");
    return CLIFF_OK;
}

cliff_crop_params cliff_crop_default_params(void) {
    return (cliff_crop_params){.rescale = 1.1, .layout = CLIFF_LAYOUT_NCHW_F32,
                               .resize = CLIFF_RESIZE_IPP, .bgr = false, .out_height = 0,
                               .out_width = 0, .window = CLIFF_WINDOW_CLIFF};
}

static cliff_status check_image(const uint8_t *image, size_t height, size_t width,
                                const cliff_crop_params *p, float *out, size_t n) {
    if (p->layout != CLIFF_LAYOUT_NCHW_F32 && p->layout != CLIFF_LAYOUT_NHWC_F32)
        return cliff_fail(CLIFF_EINVAL, "layout: the crop writes CLIFF_LAYOUT_NCHW_F32 or "
                          "CLIFF_LAYOUT_NHWC_F32, got %d", (int)p->layout);
    if (p->window != CLIFF_WINDOW_CLIFF && p->window != CLIFF_WINDOW_SQUARE && p->window != CLIFF_WINDOW_AFFINE)
        return cliff_fail(CLIFF_EINVAL, "window: expected CLIFF_WINDOW_CLIFF, _SQUARE or _AFFINE, got %d",
                          (int)p->window);
    if (p->out_width < 0 || p->out_width > MAX_OW || p->out_height < 0 || p->out_height > MAX_OH ||
        (p->window == CLIFF_WINDOW_CLIFF && (p->out_width || p->out_height)))
        return cliff_fail(CLIFF_EINVAL, "out_height/out_width: expected 0 (256 x 192) or, with the square "
                          "window, 1..%d x 1..%d, got %d x %d", MAX_OH, MAX_OW, p->out_height, p->out_width);
    if (p->window != CLIFF_WINDOW_CLIFF && (p->out_width < 1 || p->out_height < 1))
        return cliff_fail(CLIFF_EINVAL, "out_height/out_width: the square and affine windows need an output size");
    if (p->resize != CLIFF_RESIZE_OPENCV && p->resize != CLIFF_RESIZE_IPP && p->resize != CLIFF_RESIZE_SKIMAGE &&
        p->resize != CLIFF_RESIZE_AUTO)
        return cliff_fail(CLIFF_EINVAL, "resize: expected CLIFF_RESIZE_OPENCV, _IPP, _SKIMAGE or _AUTO, "
                          "got %d", (int)p->resize);
    if (height == 0 || width == 0)
        return cliff_fail(CLIFF_EINVAL, "image: empty (%zu x %zu pixels)", height, width);
    if (height > (size_t)1 << 31 || width > (size_t)1 << 31)
        return cliff_fail(CLIFF_EINVAL, "image: too large (%zu x %zu pixels)", height, width);
    if (!image || (n && !out)) return cliff_fail(CLIFF_EINVAL, "image/out: NULL pointer");
    return CLIFF_OK;
}

cliff_status cliff_crop_center_scale(const uint8_t *image, size_t height, size_t width,
                                     const double *center, const double *scale, size_t n,
                                     const cliff_crop_params *params, float *out) {
    const cliff_crop_params defaults = cliff_crop_default_params();
    const cliff_crop_params *p = params ? params : &defaults;
    cliff_status st = check_image(image, height, width, p, out, n);
    if (st) return st;
    if (n == 0) return CLIFF_OK;
    window *wins = cliff_alloc(n * sizeof *wins);
    if (!wins) return cliff_fail(CLIFF_ENOMEM, "crop: out of memory for %zu windows", n);
    for (size_t i = 0; i < n && !st; i++)
        st = make_window(center[2 * i], center[2 * i + 1], scale[i], i, "center/scale", p, &wins[i]);
    if (!st) st = crop_windows(image, height, width, wins, n, p, out);
    cliff_free(wins);
    return st;
}

static cliff_status crop_boxes(const uint8_t *image, size_t height, size_t width,
                               const double *x64, const float *x32, size_t n,
                               const cliff_crop_params *params, float *out, double *center,
                               double *scale) {
    const cliff_crop_params defaults = cliff_crop_default_params();
    const cliff_crop_params *p = params ? params : &defaults;
    const double rescale = p->rescale;
    cliff_status st = check_image(image, height, width, p, out, n);
    if (st) return st;
    if (!(isfinite(rescale) && rescale > 0))
        return cliff_fail(CLIFF_EINVAL, "rescale: expected a finite number > 0, got %g", rescale);
    for (size_t i = 0; i < n; i++) {
        double b[4];
        for (int k = 0; k < 4; k++) b[k] = x64 ? x64[4 * i + k] : (double)x32[4 * i + k];
        if (!isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]))
            return cliff_fail(CLIFF_EINVAL, "xyxy[%zu]: contains NaN or infinite values", i);
        if (b[2] < b[0] || b[3] < b[1])
            return cliff_fail(CLIFF_EINVAL, "xyxy[%zu]: expected x1 <= x2 and y1 <= y2, got "
                              "[%g, %g, %g, %g]", i, b[0], b[1], b[2], b[3]);
    }
    if (n == 0) return CLIFF_OK;
    double *cs = cliff_alloc(n * 3 * sizeof(double));
    window *wins = cliff_alloc(n * sizeof *wins);
    if (!cs || !wins) {
        cliff_free(cs);
        cliff_free(wins);
        return cliff_fail(CLIFF_ENOMEM, "crop: out of memory for %zu boxes", n);
    }
    double *c = cs, *sc = cs + 2 * n;
    if (p->window != CLIFF_WINDOW_CLIFF) /* the square box (BEDLAM's tracker, mmhuman3d's datasets) */
        for (size_t i = 0; i < n; i++) {
            double b[4];
            for (int k = 0; k < 4; k++) b[k] = x64 ? x64[4 * i + k] : (double)x32[4 * i + k];
            cliff_boxes_to_center_scale_square_f64(b, 1, rescale, c + 2 * i, sc + i);
        }
    else if (x64) cliff_boxes_to_center_scale_f64(x64, n, rescale, c, sc);
    else cliff_boxes_to_center_scale_f32in(x32, n, rescale, c, sc);
    for (size_t i = 0; i < n && !st; i++)
        st = make_window(c[2 * i], c[2 * i + 1], sc[i], i, "xyxy", p, &wins[i]);
    if (!st) st = crop_windows(image, height, width, wins, n, p, out);
    if (!st && center) memcpy(center, c, n * 2 * sizeof(double));
    if (!st && scale) memcpy(scale, sc, n * sizeof(double));
    cliff_free(wins);
    cliff_free(cs);
    return st;
}

cliff_status cliff_crop_boxes(const uint8_t *image, size_t height, size_t width,
                              const double *xyxy, size_t n, const cliff_crop_params *params,
                              float *out, double *center, double *scale) {
    return crop_boxes(image, height, width, xyxy, NULL, n, params, out, center, scale);
}

cliff_status cliff_crop_boxes_f32in(const uint8_t *image, size_t height, size_t width,
                                    const float *xyxy, size_t n, const cliff_crop_params *params,
                                    float *out, double *center, double *scale) {
    return crop_boxes(image, height, width, NULL, xyxy, n, params, out, center, scale);
}
