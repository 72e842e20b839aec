/* estimate.c - cliff_estimator: the whole CLIFF pipeline in one call (cliff.h, "the whole
 * pipeline"). Every step is the public function the step-by-step composition calls, with the
 * same arguments in the same precision, so the results are bit-identical to it:
 *
 *   boxes -> centre/scale (cliff_boxes_to_center_scale_f64) -> float32 [cx, cy, 200*scale]
 *   -> bbox_info (cliff_bbox_info_f32, released form) -> crops written by
 *   cliff_crop_center_scale straight into the network's NHWC input tensor -> encoder and
 *   regressor (cliff_net) -> cliff_rot6d_to_rotmat_f32, cliff_rotmat_to_axis_angle_f32,
 *   cliff_cam_crop_to_full_f32 -> cliff_smpl_forward -> cliff_project_points_f32.
 *
 * The only difference from the composition is where the data lives: no NCHW crop array, no
 * transpose, no per-step validation or allocation of Python objects. */
#include "common.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* per estimator: the network's joints (SMPL 24, SMPL-X 22) and the body's output joints
 * (SMPL 45, SMPL-X 127) */
#define NJ ((size_t)est->d.pose6d / 6)
#define NOUT (est->nout)
#define MAX_SIDE ((size_t)1 << 31)

struct cliff_estimator {
    cliff_net *net;   /* borrowed */
    cliff_smpl *smpl; /* borrowed */
    cliff_estimator_params p;
    cliff_net_dims d; /* the network's family: crop, bbox_info form, joints, betas */
    cliff_crop_params crop; /* its crop (window rule and size; layout NHWC float32) */
    size_t nout;            /* the body's output joints */
};

cliff_estimator_params cliff_estimator_default_params(void) {
    return (cliff_estimator_params){.rescale = 1.1, .resize = CLIFF_RESIZE_AUTO, .n_iter = 3};
}

cliff_camera cliff_camera_default(size_t width, size_t height) {
    double f = cliff_estimate_focal_length((double)width, (double)height);
    return (cliff_camera){f, f, (double)width / 2.0, (double)height / 2.0};
}

cliff_status cliff_estimator_create(cliff_net *net, cliff_smpl *smpl,
                                    const cliff_estimator_params *params,
                                    cliff_estimator **out) {
    if (!out) return cliff_fail(CLIFF_EINVAL, "cliff_estimator_create: out is NULL");
    *out = NULL;
    if (!net || !smpl) return cliff_fail(CLIFF_EINVAL, "cliff_estimator_create: net and smpl are required");
    cliff_estimator_params p = params ? *params : cliff_estimator_default_params();
    if (!(isfinite(p.rescale) && p.rescale > 0))
        return cliff_fail(CLIFF_EINVAL, "rescale: expected a finite number > 0, got %g", p.rescale);
    if (p.resize != CLIFF_RESIZE_OPENCV && p.resize != CLIFF_RESIZE_IPP && p.resize != CLIFF_RESIZE_SKIMAGE &&
        p.resize != CLIFF_RESIZE_AUTO)
        return cliff_fail(CLIFF_EINVAL, "resize: expected CLIFF_RESIZE_OPENCV, _IPP, _SKIMAGE or _AUTO, got %d",
                          (int)p.resize);
    if (p.n_iter > 100) return cliff_fail(CLIFF_EINVAL, "n_iter: expected 0..100, got %zu", p.n_iter);
    cliff_net_dims d;
    cliff_net_get_dims(net, &d);
    if (!d.pose6d) return cliff_fail(CLIFF_EINVAL, "net: a bare trunk has no regressor");
    if ((int)cliff_body_get_kind(smpl) != (int)d.body) {
        if (d.body == CLIFF_BODY_SMPLX)
            return cliff_fail(CLIFF_EINVAL, "this checkpoint regresses an SMPL-X body (%d body joints, %d betas); "
                              "pass an SMPL-X model (smplx=...)", d.pose6d / 6, d.betas);
        return cliff_fail(CLIFF_EINVAL, "smpl: this checkpoint regresses an SMPL body (%d rotations); the body "
                          "model given is SMPL-X", d.pose6d / 6);
    }
    if (cliff_body_num_pose_joints(smpl) != (size_t)d.pose6d / 6)
        return cliff_fail(CLIFF_EINVAL, "smpl: the network regresses %d rotations, the body model reads %zu",
                          d.pose6d / 6, cliff_body_num_pose_joints(smpl));
    if (cliff_smpl_num_betas(smpl) < (size_t)d.betas)
        return cliff_fail(CLIFF_EINVAL, "smpl: CLIFF predicts %d shape components, the model has %zu", d.betas,
                          cliff_smpl_num_betas(smpl));
    cliff_estimator *e = calloc(1, sizeof *e);
    if (!e) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    cliff_crop_params cp = {.rescale = 0, .layout = CLIFF_LAYOUT_NHWC_F32, .resize = p.resize, .bgr = false};
    if (d.crop_window == CLIFF_WINDOW_SQUARE || d.crop_window == CLIFF_WINDOW_AFFINE) {
        cp.window = (cliff_window_rule)d.crop_window;
        cp.out_height = d.crop_height;
        cp.out_width = d.crop_width;
    }
    if (cp.resize == CLIFF_RESIZE_AUTO) /* the release's own resize */
        cp.resize = cp.window == CLIFF_WINDOW_SQUARE ? CLIFF_RESIZE_SKIMAGE : CLIFF_RESIZE_IPP;
    *e = (cliff_estimator){net, smpl, p, d, cp, cliff_body_num_output_joints(smpl)};
    *out = e;
    return CLIFF_OK;
}

void cliff_estimator_free(cliff_estimator *est) { free(est); }

/* The network input: person i of the batch is box `box[i]` of frame `frame[i]`. */
typedef struct {
    const cliff_frame *frames;
    const size_t *frame;   /* (N,) frame of each person */
    const double *center;  /* (N,2) */
    const double *scale;   /* (N,) */
    cliff_crop_params crop;
    size_t item;           /* floats per crop */
} crop_source;

static cliff_status fill_crops(void *ctx, size_t i0, size_t b, float *dst) {
    const crop_source *s = ctx;
    const size_t item = s->item;
    for (size_t i = i0; i < i0 + b;) {
        size_t k = s->frame[i], j = i;
        while (j < i0 + b && s->frame[j] == k) j++; /* persons i..j-1: one frame, one call */
        const cliff_frame *f = &s->frames[k];
        cliff_crop_params cp = s->crop;
        cp.bgr = f->bgr;
        cliff_status st = cliff_crop_center_scale(f->pixels, f->height, f->width,
                                                  s->center + 2 * i, s->scale + i, j - i, &cp,
                                                  dst + (i - i0) * item);
        if (st) return st;
        i = j;
    }
    return CLIFF_OK;
}

static cliff_status check_frames(const cliff_frame *frames, size_t n_frames, size_t *total) {
    size_t n = 0;
    for (size_t k = 0; k < n_frames; k++) {
        const cliff_frame *f = &frames[k];
        if (f->n_boxes && (!f->pixels || !f->xyxy))
            return cliff_fail(CLIFF_EINVAL, "frames[%zu]: pixels and xyxy are required", k);
        if (f->height == 0 || f->width == 0 || f->height > MAX_SIDE || f->width > MAX_SIDE)
            return cliff_fail(CLIFF_EINVAL, "frames[%zu]: image size %zu x %zu pixels is empty or too large",
                              k, f->height, f->width);
        const cliff_camera *c = &f->camera;
        if (!(isfinite(c->fx) && isfinite(c->fy) && c->fx > 0 && c->fy > 0))
            return cliff_fail(CLIFF_EINVAL, "frames[%zu].camera: fx, fy must be positive pixels, got (%g, %g)",
                              k, c->fx, c->fy);
        if (!(isfinite(c->cx) && isfinite(c->cy)))
            return cliff_fail(CLIFF_EINVAL, "frames[%zu].camera: cx, cy must be finite, got (%g, %g)", k,
                              c->cx, c->cy);
        for (size_t i = 0; i < f->n_boxes; i++) {
            const double *b = f->xyxy + 4 * i;
            if (!isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]))
                return cliff_fail(CLIFF_EINVAL, "xyxy[%zu]: contains NaN or infinite values (frame %zu)", i, k);
            if (b[2] < b[0] || b[3] < b[1])
                return cliff_fail(CLIFF_EINVAL, "xyxy[%zu]: expected x1 <= x2 and y1 <= y2, got "
                                  "[%g, %g, %g, %g] (frame %zu)", i, b[0], b[1], b[2], b[3], k);
        }
        n += f->n_boxes;
    }
    *total = n;
    return CLIFF_OK;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

cliff_status cliff_estimate_batch(cliff_estimator *est, const cliff_frame *frames,
                                  size_t n_frames, const cliff_estimate_out *out) {
    if (!est || !out || (n_frames && !frames))
        return cliff_fail(CLIFF_EINVAL, "cliff_estimate_batch: NULL argument");
    size_t N = 0;
    cliff_status st = check_frames(frames, n_frames, &N);
    if (st || N == 0) return st;

    /* Work arrays; an output the caller wants is written in place. */
    const size_t NB = (size_t)est->d.betas;
    const size_t nf = N * (9 * NJ + NB + 3 + 3 + 3 + NOUT * 3 + 3 + 2 + 1 + 6 * NJ),
                 nd = N * 3, nz = N;
    float *wf = malloc(nf * sizeof(float));
    double *wd = malloc(nd * sizeof(double));
    size_t *frame = malloc(nz * sizeof(size_t));
    if (!wf || !wd || !frame) {
        st = cliff_fail(CLIFF_ENOMEM, "cliff_estimate_batch: out of memory for %zu people", N);
        goto done;
    }
    float *q = wf;
#define TAKE(dst, count) ((q += (count)), (dst) ? (dst) : q - (count))
    float *rotmat = TAKE(out->rotmat, N * 9 * NJ), *betas = TAKE(out->betas, N * NB),
          *cam = TAKE(out->cam_crop, N * 3), *t_full = TAKE(out->t_full, N * 3),
          *bbox_info = TAKE(out->bbox_info, N * 3), *joints = TAKE(out->joints, N * NOUT * 3);
#undef TAKE
    float *boxes = q, *pp = boxes + 3 * N, *focal = pp + 2 * N, *pose6d = focal + N;
    double *center = out->center ? out->center : wd, *scale = out->scale ? out->scale : wd + 2 * N;

    /* boxes -> centre, scale, the float32 [cx, cy, b] the official demo feeds bbox_info, and
     * each person's camera; every crop window checked before any work */
    const char *what = n_frames == 1 ? "xyxy" : "frames[].xyxy";
    for (size_t k = 0, i0 = 0; k < n_frames; i0 += frames[k].n_boxes, k++) {
        const cliff_frame *f = &frames[k];
        if (est->crop.window != CLIFF_WINDOW_CLIFF)
            cliff_boxes_to_center_scale_square_f64(f->xyxy, f->n_boxes, est->p.rescale, center + 2 * i0, scale + i0);
        else
            cliff_boxes_to_center_scale_f64(f->xyxy, f->n_boxes, est->p.rescale, center + 2 * i0, scale + i0);
        const float fo = (float)(0.5 * (f->camera.fx + f->camera.fy));
        for (size_t j = 0; j < f->n_boxes; j++) {
            size_t i = i0 + j;
            if ((st = cliff_crop_check_window(center[2 * i], center[2 * i + 1], scale[i], &est->crop, what, j)))
                goto done;
            frame[i] = k;
            boxes[3 * i + 0] = (float)center[2 * i];
            boxes[3 * i + 1] = (float)center[2 * i + 1];
            boxes[3 * i + 2] = (float)scale[i] * 200.0f;
            pp[2 * i + 0] = (float)f->camera.cx;
            pp[2 * i + 1] = (float)f->camera.cy;
            focal[i] = fo;
        }
    }
    cliff_bbox_info_f32(boxes, pp, focal, N, est->d.bbox_info, bbox_info);

    crop_source src = {frames, frame, center, scale, est->crop,
                       3 * (size_t)est->d.crop_height * (size_t)est->d.crop_width};
    st = nn_net_run_fill(est->net, N, fill_crops, &src, bbox_info, est->p.n_iter, out->features, pose6d,
                         betas, cam);
    if (st) goto done;
    cliff_rot6d_to_rotmat_f32(pose6d, N * NJ, rotmat);
    if (out->pose) cliff_rotmat_to_axis_angle_f32(rotmat, N * NJ, out->pose);
    cliff_cam_crop_to_full_f32(cam, boxes, pp, focal, N, t_full);
    if (!all_finite(rotmat, N * 9 * NJ) || !all_finite(betas, N * NB) || !all_finite(t_full, N * 3)) {
        st = cliff_fail(CLIFF_EINVAL, "the network produced NaN or infinite values (corrupt weights?)");
        goto done;
    }
    st = cliff_smpl_forward(est->smpl, N, rotmat, betas, NB, t_full, out->vertices, joints, NULL);
    if (st) goto done;
    if (out->joints2d)
        for (size_t k = 0, i0 = 0; k < n_frames; i0 += frames[k].n_boxes, k++) {
            const cliff_camera *c = &frames[k].camera;
            const float fxfy[2] = {(float)c->fx, (float)c->fy}, pp1[2] = {(float)c->cx, (float)c->cy};
            cliff_project_points_f32(joints + i0 * NOUT * 3, frames[k].n_boxes * NOUT, fxfy, pp1,
                                     out->joints2d + i0 * NOUT * 2);
        }
    if (out->focal) memcpy(out->focal, focal, N * sizeof(float));
done:
    free(wf);
    free(wd);
    free(frame);
    return st;
}

cliff_status cliff_estimate(cliff_estimator *est, const cliff_frame *frame,
                            const cliff_estimate_out *out) {
    if (!frame) return cliff_fail(CLIFF_EINVAL, "cliff_estimate: frame is NULL");
    return cliff_estimate_batch(est, frame, 1, out);
}
