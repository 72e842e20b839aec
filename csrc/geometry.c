/* geometry.c - rotations (6D, matrix, axis-angle), CLIFF's box and camera formulas, projection.
 * The kernels live in geometry_tmpl.h, instantiated here for float32 and float64. They follow
 * the official order of operations so that the float32 versions give the demo's numbers. */
#include <math.h>

#include "cliff.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

#define T float
#define SFX f32
#define SQRT sqrtf
#define SIN sinf
#define COS cosf
#define ATAN2 atan2f
#include "geometry_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef SIN
#undef COS
#undef ATAN2

#define T double
#define SFX f64
#define SQRT sqrt
#define SIN sin
#define COS cos
#define ATAN2 atan2
#include "geometry_tmpl.h"
#undef T
#undef SFX
#undef SQRT
#undef SIN
#undef COS
#undef ATAN2

/* Official bbox_from_detector: center = (x1 + x2) / 2, box = max(1.3333333333333333 bw, bh),
 * scale = (box / 200) * rescale. */
static void center_scale(double sx, double sy, double bw, double bh, double rescale, double *c,
                         double *scale) {
    double wpad = bw * 1.3333333333333333;
    double box = bh > wpad ? bh : wpad; /* Python max(a, b) keeps a unless b > a */
    c[0] = sx / 2.0;
    c[1] = sy / 2.0;
    *scale = box / 200.0;
    *scale *= rescale;
}

void cliff_boxes_to_center_scale_f64(const double *xyxy, size_t n, double rescale, double *center,
                                     double *scale) {
    for (size_t i = 0; i < n; i++) {
        const double *b = xyxy + 4 * i;
        center_scale(b[0] + b[2], b[1] + b[3], b[2] - b[0], b[3] - b[1], rescale, center + 2 * i,
                     scale + i);
    }
}

void cliff_boxes_to_center_scale_f32in(const float *xyxy, size_t n, double rescale,
                                       double *center, double *scale) {
    for (size_t i = 0; i < n; i++) {
        const float *b = xyxy + 4 * i;
        float sx = b[0] + b[2], sy = b[1] + b[3], bw = b[2] - b[0], bh = b[3] - b[1];
        center_scale(sx, sy, bw, bh, rescale, center + 2 * i, scale + i);
    }
}

double cliff_estimate_focal_length(double img_w, double img_h) {
    return sqrt(img_w * img_w + img_h * img_h);
}
