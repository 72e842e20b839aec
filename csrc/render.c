/* render.c - software rasterizer for mesh overlays: z-buffered triangles with smooth Lambert
 * shading, several meshes sharing one depth buffer, alpha-blended over an RGB image.
 *
 * Pipeline per call:
 *   1. (side view) turn every mesh 90 degrees about the vertical axis, as the official demo.
 *   2. per mesh: vertex normals (area-weighted face normals), per-vertex Lambert intensity for
 *      a directional light shining along the camera's optical axis (two-sided) plus ambient,
 *      projection to fixed-point pixel coordinates (1/256 px), outcodes against the near plane
 *      and a guard band around the image.
 *   3. per triangle: trivially rejected, drawn directly (all vertices inside), or clipped in 3D
 *      against the near plane and the guard band (Sutherland-Hodgman) and drawn as a fan.
 *   4. rasterization with integer edge functions and the top-left fill rule; a pixel is
 *      covered when its centre (x + 0.5, y + 0.5) is inside. Depth is 1/z interpolated in
 *      screen space (exact for planar triangles), bigger 1/z = nearer wins; the intensity is
 *      interpolated perspective-correctly.
 *   5. composite: covered pixels become alpha * colour * intensity + (1 - alpha) * image.
 * Buffers cover only the part of the image the meshes can reach, so the cost follows the size
 * of the people on screen, not the size of the photo. All buffers are per call (thread-safe). */
#include "common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SUB_BITS 8
#define SUB (1 << SUB_BITS)   /* sub-pixel steps per pixel */
#define HALF (SUB / 2)
/* Pixels kept around the image by the clipper. Large, so that clipping (whose new vertices are
 * rounded to the sub-pixel grid) only happens for geometry far outside the image or crossing
 * the near plane; coordinates stay below 2^29 sub-pixel units, edge functions below 2^60. */
#define GUARD 1048576.0
#define Z_NEAR 1e-3           /* metres: geometry closer than this to the camera is clipped */
#define AMBIENT 0.3f          /* intensity = AMBIENT + (1 - AMBIENT) * |cos(normal, view axis)| */
#define MAX_SIDE CLIFF_RENDER_MAX_SIDE
#define MAX_MESHES CLIFF_RENDER_MAX_MESHES
#define MAX_POLY 12

enum { OUT_NEAR = 1, OUT_LEFT = 2, OUT_RIGHT = 4, OUT_TOP = 8, OUT_BOTTOM = 16 };

typedef struct {
    double x, y, z, shade; /* camera frame (metres) and Lambert intensity */
} cvert;

typedef struct {
    int64_t X, Y; /* fixed-point pixel coordinates (pixel units * SUB) */
    float w;      /* 1 / z */
    float ws;     /* intensity / z */
} svert;

typedef struct {
    double fx, fy, cx, cy;
    double plane[5][4]; /* inside when a*x + b*y + c*z + d >= 0; order matches the OUT_ bits */
    int x0, y0, w, h;   /* image region held by the buffers */
    float *depth;       /* 1/z of the nearest surface, 0 = nothing drawn */
    float *shade;       /* its intensity */
    uint16_t *id;       /* its mesh */
} raster;

static inline int64_t min3(int64_t a, int64_t b, int64_t c) {
    int64_t m = a < b ? a : b;
    return m < c ? m : c;
}

static inline int64_t max3(int64_t a, int64_t b, int64_t c) {
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* floor(a / SUB) and ceil(a / SUB) for any sign (arithmetic shift, as gcc and clang do). */
static inline int64_t floor_sub(int64_t a) { return a >> SUB_BITS; }

static inline int64_t ceil_sub(int64_t a) { return -((-a) >> SUB_BITS); }

/* Top-left rule for an edge a->b of a triangle oriented so that the interior has E > 0, where
 * E(p) = (b.X - a.X)(p.Y - a.Y) - (b.Y - a.Y)(p.X - a.X) and y grows downwards: left edges go
 * up (dy < 0), top edges are horizontal and go right. Returns the bias added to E before the
 * test E + bias >= 0 (0: a centre exactly on the edge is inside, -1: it is not). */
static inline int64_t edge_bias(const svert *a, const svert *b) {
    int64_t dx = b->X - a->X, dy = b->Y - a->Y;
    return (dy < 0 || (dy == 0 && dx > 0)) ? 0 : -1;
}

static void raster_tri(raster *r, const svert *a, const svert *b, const svert *c, uint16_t id) {
    int64_t area = (b->X - a->X) * (c->Y - a->Y) - (b->Y - a->Y) * (c->X - a->X);
    if (area == 0) return;
    if (area < 0) {
        const svert *t = b;
        b = c;
        c = t;
        area = -area;
    }
    /* pixels whose centre x*SUB + HALF lies inside the bounding box, within the region */
    int64_t px0 = ceil_sub(min3(a->X, b->X, c->X) - HALF);
    int64_t px1 = floor_sub(max3(a->X, b->X, c->X) - HALF);
    int64_t py0 = ceil_sub(min3(a->Y, b->Y, c->Y) - HALF);
    int64_t py1 = floor_sub(max3(a->Y, b->Y, c->Y) - HALF);
    if (px0 < r->x0) px0 = r->x0;
    if (py0 < r->y0) py0 = r->y0;
    if (px1 > r->x0 + r->w - 1) px1 = r->x0 + r->w - 1;
    if (py1 > r->y0 + r->h - 1) py1 = r->y0 + r->h - 1;
    if (px0 > px1 || py0 > py1) return;

    /* edge k is opposite vertex k: e0 = b->c, e1 = c->a, e2 = a->b; e_k / area = barycentric k */
    const svert *ea[3] = {b, c, a}, *eb[3] = {c, a, b};
    int64_t e_row[3], step_x[3], step_y[3], bias[3];
    int64_t sx = px0 * SUB + HALF, sy = py0 * SUB + HALF;
    for (int k = 0; k < 3; k++) {
        int64_t dx = eb[k]->X - ea[k]->X, dy = eb[k]->Y - ea[k]->Y;
        e_row[k] = dx * (sy - ea[k]->Y) - dy * (sx - ea[k]->X);
        step_x[k] = -dy * SUB;
        step_y[k] = dx * SUB;
        bias[k] = edge_bias(ea[k], eb[k]);
    }
    const float inv_area = (float)(1.0 / (double)area);
    const float wa = a->w, wb = b->w, wc = c->w, sa = a->ws, sb = b->ws, sc = c->ws;
    for (int64_t y = py0; y <= py1; y++) {
        int64_t e0 = e_row[0] + bias[0], e1 = e_row[1] + bias[1], e2 = e_row[2] + bias[2];
        size_t row = (size_t)(y - r->y0) * (size_t)r->w - (size_t)r->x0;
        for (int64_t x = px0; x <= px1; x++) {
            if ((e0 | e1 | e2) >= 0) {
                /* undo the bias for the weights (it only decides ties) */
                float f0 = (float)(e0 - bias[0]), f1 = (float)(e1 - bias[1]),
                      f2 = (float)(e2 - bias[2]);
                float s = f0 * wa + f1 * wb + f2 * wc;
                float depth = s * inv_area;
                size_t i = row + (size_t)x;
                if (depth > r->depth[i]) {
                    r->depth[i] = depth;
                    r->shade[i] = (f0 * sa + f1 * sb + f2 * sc) / s;
                    r->id[i] = id;
                }
            }
            e0 += step_x[0];
            e1 += step_x[1];
            e2 += step_x[2];
        }
        e_row[0] += step_y[0];
        e_row[1] += step_y[1];
        e_row[2] += step_y[2];
    }
}

static inline double plane_dist(const double *p, const cvert *v) {
    return p[0] * v->x + p[1] * v->y + p[2] * v->z + p[3];
}

static int outcode(const raster *r, const cvert *v) {
    int code = 0;
    for (int k = 0; k < 5; k++)
        if (plane_dist(r->plane[k], v) < 0) code |= 1 << k;
    return code;
}

static svert project(const raster *r, const cvert *v) {
    svert s;
    double u = r->fx * v->x / v->z + r->cx, t = r->fy * v->y / v->z + r->cy;
    s.X = (int64_t)llrint(u * SUB);
    s.Y = (int64_t)llrint(t * SUB);
    s.w = (float)(1.0 / v->z);
    s.ws = (float)(v->shade / v->z);
    return s;
}

/* Clip triangle (a, b, c) against the planes in `mask` and draw the remaining polygon. */
static void clip_and_draw(raster *r, const cvert *a, const cvert *b, const cvert *c, int mask,
                          uint16_t id) {
    cvert buf[2][MAX_POLY];
    int n = 3, cur = 0;
    buf[0][0] = *a;
    buf[0][1] = *b;
    buf[0][2] = *c;
    for (int k = 0; k < 5 && n > 0; k++) {
        if (!(mask & (1 << k))) continue;
        const double *p = r->plane[k];
        const cvert *in = buf[cur];
        cvert *out = buf[cur ^ 1];
        int m = 0;
        for (int i = 0; i < n; i++) {
            const cvert *u = &in[i], *v = &in[(i + 1) % n];
            double du = plane_dist(p, u), dv = plane_dist(p, v);
            if (du >= 0) out[m++] = *u;
            if ((du >= 0) != (dv >= 0)) {
                double t = du / (du - dv);
                cvert q = {u->x + t * (v->x - u->x), u->y + t * (v->y - u->y),
                           u->z + t * (v->z - u->z), u->shade + t * (v->shade - u->shade)};
                if (k == 0 && q.z < Z_NEAR) q.z = Z_NEAR; /* rounding; keep 1/z finite */
                out[m++] = q;
            }
        }
        n = m;
        cur ^= 1;
    }
    if (n < 3) return;
    svert s[MAX_POLY];
    for (int i = 0; i < n; i++) s[i] = project(r, &buf[cur][i]);
    for (int i = 1; i + 1 < n; i++) raster_tri(r, &s[0], &s[i], &s[i + 1], id);
}

/* Per-vertex intensity from area-weighted vertex normals; `acc` is scratch (nv*3 floats). */
static void vertex_shading(const float *v, size_t nv, const int64_t *faces, size_t nf, float *acc,
                           cvert *out) {
    memset(acc, 0, nv * 3 * sizeof(float));
    for (size_t f = 0; f < nf; f++) {
        const float *p0 = v + 3 * faces[3 * f], *p1 = v + 3 * faces[3 * f + 1],
                    *p2 = v + 3 * faces[3 * f + 2];
        float e1[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
        float e2[3] = {p2[0] - p0[0], p2[1] - p0[1], p2[2] - p0[2]};
        float n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                      e1[0] * e2[1] - e1[1] * e2[0]};
        for (int k = 0; k < 3; k++) {
            float *a = acc + 3 * faces[3 * f + k];
            a[0] += n[0];
            a[1] += n[1];
            a[2] += n[2];
        }
    }
    for (size_t i = 0; i < nv; i++) {
        const float *p = v + 3 * i, *n = acc + 3 * i;
        double nn = (double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2];
        double cosang = nn > 0 ? fabs((double)n[2]) / sqrt(nn) : 1.0;
        out[i].x = p[0];
        out[i].y = p[1];
        out[i].z = p[2];
        out[i].shade = AMBIENT + (1.0 - AMBIENT) * cosang;
    }
}

/* Official side view: centre c = (0, 0, mean z of all vertices); v' = R^T (v - c) + c with R the
 * +90 degree rotation about y, i.e. x' = -(z - cz), y' = y, z' = x + cz. This equals turning
 * the meshes about the vertical axis through their centre and moving them onto the optical
 * axis, at the same distance. */
static void side_transform(const float *v, size_t n, float *out) {
    double cz = 0;
    for (size_t i = 0; i < n; i++) cz += v[3 * i + 2];
    cz /= (double)n;
    for (size_t i = 0; i < n; i++) {
        out[3 * i + 0] = (float)(-((double)v[3 * i + 2] - cz));
        out[3 * i + 1] = v[3 * i + 1];
        out[3 * i + 2] = (float)((double)v[3 * i] + cz);
    }
}

static cliff_status check_args(size_t height, size_t width, const float *vertices, size_t n_meshes,
                               size_t n_verts, const int64_t *faces, size_t n_faces,
                               const float *fxfy, const float *pp, const float *colors,
                               float alpha) {
    if (height < 1 || width < 1 || height > MAX_SIDE || width > MAX_SIDE)
        return cliff_fail(CLIFF_EINVAL, "image: expected 1..%d pixels per side, got %zu x %zu",
                          MAX_SIDE, height, width);
    if (n_meshes > MAX_MESHES)
        return cliff_fail(CLIFF_EINVAL, "vertices: at most %d meshes, got %zu", MAX_MESHES,
                          n_meshes);
    if (!(fxfy[0] > 0) || !(fxfy[1] > 0) || !isfinite(fxfy[0]) || !isfinite(fxfy[1]))
        return cliff_fail(CLIFF_EINVAL, "focal: expected positive finite pixels, got (%g, %g)",
                          (double)fxfy[0], (double)fxfy[1]);
    if (!isfinite(pp[0]) || !isfinite(pp[1]))
        return cliff_fail(CLIFF_EINVAL, "principal_point: expected finite pixels, got (%g, %g)",
                          (double)pp[0], (double)pp[1]);
    if (!(alpha >= 0 && alpha <= 1))
        return cliff_fail(CLIFF_EINVAL, "alpha: expected a value in [0, 1], got %g", (double)alpha);
    if (n_meshes == 0) return CLIFF_OK;
    if (n_verts == 0) return cliff_fail(CLIFF_EINVAL, "vertices: expected at least one vertex");
    for (size_t i = 0; i < 3 * n_faces; i++)
        if (faces[i] < 0 || (uint64_t)faces[i] >= n_verts)
            return cliff_fail(CLIFF_EINVAL, "faces: index %lld at face %zu is out of range "
                              "[0, %zu)", (long long)faces[i], i / 3, n_verts);
    for (size_t i = 0; i < 3 * n_meshes * n_verts; i++)
        if (!isfinite(vertices[i]))
            return cliff_fail(CLIFF_EINVAL, "vertices: contains NaN or infinite values");
    for (size_t i = 0; i < 3 * n_meshes; i++)
        if (!(colors[i] >= 0 && colors[i] <= 1))
            return cliff_fail(CLIFF_EINVAL, "colors: expected values in [0, 1], got %g",
                              (double)colors[i]);
    return CLIFF_OK;
}

cliff_render_params cliff_render_default_params(void) {
    return (cliff_render_params){.fxfy = {0, 0}, .pp = {0, 0}, .colors = NULL, .alpha = 1.0f,
                                 .view = CLIFF_RENDER_FRONT};
}

cliff_status cliff_render(uint8_t *rgb, size_t height, size_t width, const float *vertices,
                          size_t n_meshes, size_t n_verts, const int64_t *faces, size_t n_faces,
                          const cliff_render_params *params) {
    if (!rgb || !params || (n_meshes && (!vertices || !params->colors || (n_faces && !faces))))
        return cliff_fail(CLIFF_EINVAL, "cliff_render: NULL argument");
    const float *fxfy = params->fxfy, *pp = params->pp, *colors = params->colors;
    const float alpha = params->alpha;
    const cliff_render_view view = params->view;
    if (view != CLIFF_RENDER_FRONT && view != CLIFF_RENDER_SIDE)
        return cliff_fail(CLIFF_EINVAL,
                          "view: expected CLIFF_RENDER_FRONT or CLIFF_RENDER_SIDE, got %d", (int)view);
    cliff_status st = check_args(height, width, vertices, n_meshes, n_verts, faces, n_faces, fxfy,
                                 pp, colors, alpha);
    if (st != CLIFF_OK || n_meshes == 0 || n_faces == 0) return st;

    raster r = {.fx = fxfy[0], .fy = fxfy[1], .cx = pp[0], .cy = pp[1]};
    const double W = width, H = height;
    /* near: z >= Z_NEAR; left: u >= -GUARD; right: u <= W + GUARD; top, bottom likewise */
    const double planes[5][4] = {
        {0, 0, 1, -Z_NEAR},
        {r.fx, 0, r.cx + GUARD, 0},
        {-r.fx, 0, W + GUARD - r.cx, 0},
        {0, r.fy, r.cy + GUARD, 0},
        {0, -r.fy, H + GUARD - r.cy, 0},
    };
    memcpy(r.plane, planes, sizeof planes);

    const size_t total = n_meshes * n_verts;
    float *side = NULL, *acc = cliff_alloc(n_verts * 3 * sizeof(float));
    cvert *cv = cliff_alloc(n_verts * sizeof(cvert));
    svert *sv = cliff_alloc(n_verts * sizeof(svert));
    unsigned char *code = cliff_alloc(n_verts);
    if (view == CLIFF_RENDER_SIDE) side = cliff_alloc(total * 3 * sizeof(float));
    if (!acc || !cv || !sv || !code || (view == CLIFF_RENDER_SIDE && !side)) {
        st = cliff_fail(CLIFF_ENOMEM, "cliff_render: out of memory for %zu vertices", total);
        goto done;
    }
    if (side) {
        side_transform(vertices, total, side);
        vertices = side;
    }

    /* Region of the image the meshes can touch: the bounding box of the projected vertices
     * (whole image if some vertex is behind the near plane: clipping can then reach anywhere). */
    double umin = INFINITY, umax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < total; i++) {
        const float *p = vertices + 3 * i;
        if (p[2] <= Z_NEAR) {
            umin = vmin = -INFINITY;
            umax = vmax = INFINITY;
            break;
        }
        double u = r.fx * p[0] / p[2] + r.cx, v = r.fy * p[1] / p[2] + r.cy;
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        vmin = v < vmin ? v : vmin;
        vmax = v > vmax ? v : vmax;
    }
    double rx0 = fmax(floor(umin) - 1, 0), rx1 = fmin(ceil(umax) + 1, W - 1);
    double ry0 = fmax(floor(vmin) - 1, 0), ry1 = fmin(ceil(vmax) + 1, H - 1);
    if (rx0 > rx1 || ry0 > ry1) goto done; /* nothing on screen */
    r.x0 = (int)rx0;
    r.y0 = (int)ry0;
    r.w = (int)rx1 - r.x0 + 1;
    r.h = (int)ry1 - r.y0 + 1;
    const size_t npix = (size_t)r.w * (size_t)r.h;
    r.depth = cliff_alloc(npix * sizeof(float));
    r.shade = cliff_alloc(npix * sizeof(float));
    r.id = cliff_alloc(npix * sizeof(uint16_t));
    if (!r.depth || !r.shade || !r.id) {
        st = cliff_fail(CLIFF_ENOMEM, "cliff_render: out of memory for a %d x %d depth buffer",
                        r.w, r.h);
        goto done;
    }
    memset(r.depth, 0, npix * sizeof(float));

    for (size_t m = 0; m < n_meshes; m++) {
        vertex_shading(vertices + m * n_verts * 3, n_verts, faces, n_faces, acc, cv);
        for (size_t i = 0; i < n_verts; i++) {
            code[i] = (unsigned char)outcode(&r, &cv[i]);
            if (!code[i]) sv[i] = project(&r, &cv[i]);
        }
        for (size_t f = 0; f < n_faces; f++) {
            int64_t i0 = faces[3 * f], i1 = faces[3 * f + 1], i2 = faces[3 * f + 2];
            int any = code[i0] | code[i1] | code[i2];
            if (!any) raster_tri(&r, &sv[i0], &sv[i1], &sv[i2], (uint16_t)m);
            else if (!(code[i0] & code[i1] & code[i2]))
                clip_and_draw(&r, &cv[i0], &cv[i1], &cv[i2], any, (uint16_t)m);
        }
    }

    /* composite */
    for (int y = 0; y < r.h; y++) {
        const float *d = r.depth + (size_t)y * r.w, *s = r.shade + (size_t)y * r.w;
        const uint16_t *id = r.id + (size_t)y * r.w;
        uint8_t *px = rgb + ((size_t)(r.y0 + y) * (size_t)width + (size_t)r.x0) * 3;
        for (int x = 0; x < r.w; x++, px += 3) {
            if (!(d[x] > 0)) continue;
            const float *c = colors + 3 * id[x];
            float k = alpha * 255.0f * s[x];
            for (int ch = 0; ch < 3; ch++) {
                float v = k * c[ch] + (1.0f - alpha) * (float)px[ch] + 0.5f;
                px[ch] = (uint8_t)(v >= 255.0f ? 255.0f : v);
            }
        }
    }

done:
    cliff_free(r.depth);
    cliff_free(r.shade);
    cliff_free(r.id);
    cliff_free(acc);
    cliff_free(cv);
    cliff_free(sv);
    cliff_free(code);
    cliff_free(side);
    return st;
}
