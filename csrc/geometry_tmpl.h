/* geometry_tmpl.h - the geometry kernels written once for both precisions.
 * Included twice by geometry.c with T (float or double), SFX (f32 or f64) and the math
 * functions SQRT, SIN, COS, ATAN2 of that precision. Every constant is written as K(x), the
 * double literal rounded to T, which is what PyTorch does with a Python float scalar.
 * Expressions keep the official order of operations (C evaluates a + b + c as (a + b) + c). */

#define K(x) ((T)(x))

void FN(cliff_rot6d_to_rotmat)(const T *x, size_t n, T *R) {
    for (size_t i = 0; i < n; i++) {
        const T *v = x + 6 * i;
        T *r = R + 9 * i;
        /* columns of the row-major 3x2 matrix [[x0,x1],[x2,x3],[x4,x5]] */
        T a1[3] = {v[0], v[2], v[4]}, a2[3] = {v[1], v[3], v[5]}, b1[3], b2[3], b3[3];
        T n1 = SQRT(a1[0] * a1[0] + a1[1] * a1[1] + a1[2] * a1[2]);
        if (n1 < K(1e-12)) n1 = K(1e-12); /* F.normalize: x / max(|x|, 1e-12) */
        for (int k = 0; k < 3; k++) b1[k] = a1[k] / n1;
        T d = b1[0] * a2[0] + b1[1] * a2[1] + b1[2] * a2[2];
        T u[3];
        for (int k = 0; k < 3; k++) u[k] = a2[k] - d * b1[k];
        T n2 = SQRT(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        if (n2 < K(1e-12)) n2 = K(1e-12);
        for (int k = 0; k < 3; k++) b2[k] = u[k] / n2;
        b3[0] = b1[1] * b2[2] - b1[2] * b2[1];
        b3[1] = b1[2] * b2[0] - b1[0] * b2[2];
        b3[2] = b1[0] * b2[1] - b1[1] * b2[0];
        for (int k = 0; k < 3; k++) {
            r[3 * k + 0] = b1[k];
            r[3 * k + 1] = b2[k];
            r[3 * k + 2] = b3[k];
        }
    }
}

/* torchgeometry 0.1.2: rotation_matrix_to_quaternion (eps = 1e-6, no re-normalisation), then
 * quaternion_to_angle_axis. The library's 0/1-masked sum of four candidates is a selection. */
void FN(cliff_rotmat_to_axis_angle)(const T *R, size_t n, T *aa) {
    const T eps = K(1e-6);
    for (size_t i = 0; i < n; i++) {
        const T *m = R + 9 * i;
        T r00 = m[0], r01 = m[1], r02 = m[2];
        T r10 = m[3], r11 = m[4], r12 = m[5];
        T r20 = m[6], r21 = m[7], r22 = m[8];
        T t, q[4];
        if (r22 < eps) {
            if (r00 > r11) {
                t = K(1) + r00 - r11 - r22;
                q[0] = r21 - r12, q[1] = t, q[2] = r10 + r01, q[3] = r02 + r20;
            } else {
                t = K(1) - r00 + r11 - r22;
                q[0] = r02 - r20, q[1] = r10 + r01, q[2] = t, q[3] = r21 + r12;
            }
        } else {
            if (r00 < -r11) {
                t = K(1) - r00 - r11 + r22;
                q[0] = r10 - r01, q[1] = r02 + r20, q[2] = r21 + r12, q[3] = t;
            } else {
                t = K(1) + r00 + r11 + r22;
                q[0] = t, q[1] = r21 - r12, q[2] = r02 - r20, q[3] = r10 - r01;
            }
        }
        T st = SQRT(t);
        for (int k = 0; k < 4; k++) q[k] = (q[k] / st) * K(0.5);
        /* quaternion (w, x, y, z) -> angle-axis */
        T s2 = q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
        T s = SQRT(s2), w = q[0];
        T two_theta = K(2) * (w < K(0) ? ATAN2(-s, -w) : ATAN2(s, w));
        T k = s2 > K(0) ? two_theta / s : K(2);
        T *o = aa + 3 * i;
        o[0] = q[1] * k;
        o[1] = q[2] * k;
        o[2] = q[3] * k;
    }
}

/* R = cos(t) I + (sin(t)/t) [a]x + ((1 - cos(t))/t^2) a a^T with t = |a|; 1 - cos(t) is formed as
 * 2 sin^2(t/2) (no cancellation) and tiny angles use the Taylor series of the three factors. */
void FN(cliff_axis_angle_to_rotmat)(const T *aa, size_t n, T *R) {
    for (size_t i = 0; i < n; i++) {
        const T *a = aa + 3 * i;
        T *r = R + 9 * i;
        T x = a[0], y = a[1], z = a[2];
        T t2 = x * x + y * y + z * z, c, s, c1;
        if (t2 < K(1e-6)) {
            c = K(1) - t2 * (K(0.5) - t2 * K(1.0 / 24.0));
            s = K(1) - t2 * (K(1.0 / 6.0) - t2 * K(1.0 / 120.0));
            c1 = K(0.5) - t2 * (K(1.0 / 24.0) - t2 * K(1.0 / 720.0));
        } else {
            T th = SQRT(t2), h = SIN(K(0.5) * th);
            c = COS(th);
            s = SIN(th) / th;
            c1 = K(2) * h * h / t2;
        }
        r[0] = c + c1 * x * x;
        r[1] = c1 * x * y - s * z;
        r[2] = c1 * x * z + s * y;
        r[3] = c1 * y * x + s * z;
        r[4] = c + c1 * y * y;
        r[5] = c1 * y * z - s * x;
        r[6] = c1 * z * x - s * y;
        r[7] = c1 * z * y + s * x;
        r[8] = c + c1 * z * z;
    }
}

/* Official demo (float32 there):
 *   [0] = ((cx - px) / f) * 2.8,  [1] = ((cy - py) / f) * 2.8,  [2] = (b - 0.24 f) / (0.06 f)
 * paper form: [(cx - px) / f, (cy - py) / f, b / f]. */
void FN(cliff_bbox_info)(const T *box, const T *pp, const T *focal, size_t n, cliff_bbox_form form, T *out) {
    for (size_t i = 0; i < n; i++) {
        const T *bx = box + 3 * i;
        T f = focal[i], *o = out + 3 * i;
        T dx = bx[0] - pp[2 * i], dy = bx[1] - pp[2 * i + 1];
        if (form == CLIFF_BBOX_PAPER) {
            o[0] = dx / f;
            o[1] = dy / f;
            o[2] = bx[2] / f;
        } else {
            o[0] = (dx / f) * K(2.8);
            o[1] = (dy / f) * K(2.8);
            o[2] = (bx[2] - K(0.24) * f) / (K(0.06) * f);
        }
    }
}

/* Official cam_crop2full:
 *   bs = b s + 1e-9;  tz = 2 f / bs;  tx' = 2 (cx - px) / bs + tx;  ty' = 2 (cy - py) / bs + ty */
void FN(cliff_cam_crop_to_full)(const T *cam, const T *box, const T *pp, const T *focal, size_t n,
                                T *t_full) {
    for (size_t i = 0; i < n; i++) {
        const T *c = cam + 3 * i, *bx = box + 3 * i;
        T *o = t_full + 3 * i;
        T bs = bx[2] * c[0] + K(1e-9);
        o[0] = (K(2) * (bx[0] - pp[2 * i])) / bs + c[1];
        o[1] = (K(2) * (bx[1] - pp[2 * i + 1])) / bs + c[2];
        o[2] = (K(2) * focal[i]) / bs;
    }
}

/* u = fx (X / Z) + cx, v = fy (Y / Z) + cy */
void FN(cliff_project_points)(const T *points, size_t n, const T *fxfy, const T *pp, T *uv) {
    for (size_t i = 0; i < n; i++) {
        const T *p = points + 3 * i;
        uv[2 * i] = fxfy[0] * (p[0] / p[2]) + pp[0];
        uv[2 * i + 1] = fxfy[1] * (p[1] / p[2]) + pp[1];
    }
}

void FN(cliff_project_points_each)(const T *points, size_t n, const T *fxfy, const T *pp, T *uv) {
    for (size_t i = 0; i < n; i++) FN(cliff_project_points)(points + 3 * i, 1, fxfy + 2 * i, pp + 2 * i, uv + 2 * i);
}

#undef K
