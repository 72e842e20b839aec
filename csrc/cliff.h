/* cliff.h - public C API of the cliff core (CLIFF human mesh recovery on the CPU).
 *
 * Conventions
 *  - Every function that can fail returns a cliff_status; on failure a message describing
 *    what and where is available from cliff_last_error() (per calling thread).
 *  - Arrays are contiguous, row-major, with the shapes given in each comment.
 *  - Units: pixels for image quantities, metres for 3D, OpenCV camera frame
 *    (x right, y down, z forward). SMPL joint order as in the official release.
 *  - Handles are opaque; each has a create or load function and a free function. A handle may be used from
 *    several threads at once: it serializes its own execution.
 *  - No function keeps a pointer to caller memory after it returns.
 */
#ifndef CLIFF_H
#define CLIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CLIFF_API __attribute__((visibility("default")))
#else
#define CLIFF_API
#endif

typedef enum {
    CLIFF_OK = 0,
    CLIFF_EINVAL = 1,  /* bad argument: shape, value, range */
    CLIFF_ENOMEM = 2,  /* allocation failed */
    CLIFF_EIO = 3,     /* file could not be read or has the wrong content */
    CLIFF_EDNNL = 4,   /* oneDNN refused or failed */
    CLIFF_ESTATE = 5,  /* handle used in a state that does not allow it (e.g. closed) */
} cliff_status;

/* ---- common ------------------------------------------------------------------------ */

/* Message of the last failure in the calling thread ("" if none). */
CLIFF_API const char *cliff_last_error(void);

/* Threads used by the core's OpenMP regions and oneDNN primitives (process-wide).
 * n <= 0 restores the default (all cores). */
CLIFF_API void cliff_set_num_threads(int n);
CLIFF_API int cliff_get_num_threads(void);

/* oneDNN runtime version (major, minor, patch) and the ISA it dispatches to (a string). */
CLIFF_API void cliff_dnnl_version(int *major, int *minor, int *patch);
CLIFF_API const char *cliff_dnnl_isa(void);

/* ---- geometry (geometry.c) ----------------------------------------------------------- */
/* All functions take n items, contiguous; _f32 computes in float32, _f64 in float64.
 * They cannot fail (callers validate shapes and values). */

/* 6D rotation representation -> rotation matrix, official convention (Gram-Schmidt on the
 * two columns of the row-major 3x2 matrix [[x0,x1],[x2,x3],[x4,x5]]). x (n,6) -> R (n,3,3). */
CLIFF_API void cliff_rot6d_to_rotmat_f32(const float *x, size_t n, float *R);
CLIFF_API void cliff_rot6d_to_rotmat_f64(const double *x, size_t n, double *R);

/* Rotation matrix -> axis-angle, the same numbers as the official demo's conversion.
 * R (n,3,3) -> aa (n,3), radians. */
CLIFF_API void cliff_rotmat_to_axis_angle_f32(const float *R, size_t n, float *aa);
CLIFF_API void cliff_rotmat_to_axis_angle_f64(const double *R, size_t n, double *aa);

/* Axis-angle -> rotation matrix (Rodrigues, stable for tiny angles). aa (n,3) -> R (n,3,3). */
CLIFF_API void cliff_axis_angle_to_rotmat_f32(const float *aa, size_t n, float *R);
CLIFF_API void cliff_axis_angle_to_rotmat_f64(const double *aa, size_t n, double *R);

/* Person box -> centre and scale (official bbox_from_detector with 4:3 padding):
 * xyxy (n,4) pixels -> center (n,2) pixels, scale (n,) with b = 200*scale the crop height. */
CLIFF_API void cliff_boxes_to_center_scale_f64(const double *xyxy, size_t n, double rescale,
                                               double *center, double *scale);

/* Same from float32 detections with the official mixed precision (NumPy 1.x): x1 + x2 and the
 * box width/height in float32, everything after that in float64. Outputs are float64. */
CLIFF_API void cliff_boxes_to_center_scale_f32in(const float *xyxy, size_t n, double rescale,
                                                 double *center, double *scale);

/* Official focal length guess: the image diagonal sqrt(w^2 + h^2), pixels (float64). */
CLIFF_API double cliff_estimate_focal_length(double img_w, double img_h);

enum { CLIFF_BBOX_RELEASED = 0, CLIFF_BBOX_PAPER = 1 };

/* CLIFF's regressor input. box (n,3) = [cx, cy, b] pixels; pp (n,2) principal point pixels
 * (the official code uses the image centre W/2, H/2); focal (n,) pixels; form = released|paper.
 * -> out (n,3). */
CLIFF_API void cliff_bbox_info_f32(const float *box, const float *pp, const float *focal,
                                   size_t n, int form, float *out);
CLIFF_API void cliff_bbox_info_f64(const double *box, const double *pp, const double *focal,
                                   size_t n, int form, double *out);

/* Crop camera (s, tx, ty) -> full-frame SMPL translation (metres), official cam_crop2full.
 * cam (n,3), box (n,3) = [cx, cy, b], pp (n,2), focal (n,) -> t_full (n,3). */
CLIFF_API void cliff_cam_crop_to_full_f32(const float *cam, const float *box, const float *pp,
                                          const float *focal, size_t n, float *t_full);
CLIFF_API void cliff_cam_crop_to_full_f64(const double *cam, const double *box, const double *pp,
                                          const double *focal, size_t n, double *t_full);

/* Perspective projection, OpenCV convention: u = fx*X/Z + cx, v = fy*Y/Z + cy.
 * points (n,3) metres; fxfy (2,), pp (2,) pixels -> uv (n,2) pixels. */
CLIFF_API void cliff_project_points_f32(const float *points, size_t n, const float *fxfy,
                                        const float *pp, float *uv);
CLIFF_API void cliff_project_points_f64(const double *points, size_t n, const double *fxfy,
                                        const double *pp, double *uv);

/* Same with intrinsics per point: fxfy (n,2), pp (n,2). */
CLIFF_API void cliff_project_points_each_f32(const float *points, size_t n, const float *fxfy,
                                             const float *pp, float *uv);
CLIFF_API void cliff_project_points_each_f64(const double *points, size_t n, const double *fxfy,
                                             const double *pp, double *uv);

/* ---- SMPL body model (smpl.c) -------------------------------------------------------- */

/* ---- networks (nn/) ------------------------------------------------------------------ */
/* CLIFF's encoder (HRNet-W48 "hr48" or ResNet-50 "res50") and iterative regressor on oneDNN.
 * Weights come as named float32 arrays with the official checkpoint keys ("module." removed);
 * the key set must equal the architecture's exactly (num_batches_tracked entries may be given
 * with any content). BatchNorm is folded and weights are packed at creation; the arrays are
 * not referenced afterwards. A cliff_net serializes its own execution (safe from several
 * threads). Crops are 256x192 (H x W). */

typedef struct cliff_net cliff_net;

typedef struct {
    const char *name;   /* checkpoint key */
    int ndim;           /* <= 4 */
    int64_t shape[4];
    const float *data;  /* contiguous float32 */
} cliff_array;

enum { CLIFF_FP32 = 0, CLIFF_BF16 = 1 };              /* encoder precision */
enum { CLIFF_CROPS_NCHW_F32 = 0, CLIFF_CROPS_NHWC_U8 = 1 }; /* crop layouts */
#define CLIFF_CROP_H 256
#define CLIFF_CROP_W 192
#define CLIFF_FEATURES 2048

/* release (may be NULL) is called with the index of each array once the engine no longer
 * reads it (a caller handing over its only copy can free it there: peak memory stays near one
 * copy of the weights); every index is released before the function returns. */
CLIFF_API cliff_status cliff_net_create(const char *backbone, int precision,
                                        const cliff_array *arrays, size_t n_arrays,
                                        void (*release)(void *ctx, size_t index),
                                        void *release_ctx, cliff_net **out);
CLIFF_API void cliff_net_free(cliff_net *net);

/* crops: CLIFF_CROPS_NCHW_F32 (n,3,256,192) float32 normalized with the ImageNet mean/std, or
 * CLIFF_CROPS_NHWC_U8 (n,256,192,3) uint8 RGB (normalized inside: (x/255 - mean)/std in
 * float32). bbox_info (n,3) (see cliff_bbox_info_f32; may be NULL when only features are
 * wanted, then the regressor outputs must be NULL too). Outputs (each may be NULL):
 * features (n,2048); pose6d (n,144) joint-major 6D; betas (n,10); cam (n,3) = (s, tx, ty). */
CLIFF_API cliff_status cliff_net_run(cliff_net *net, const void *crops, int layout, size_t n,
                                     const float *bbox_info, int n_iter, float *features,
                                     float *pose6d, float *betas, float *cam);

/* Bytes of the packed weights (encoder + collapsed regressor). */
CLIFF_API size_t cliff_net_weight_bytes(const cliff_net *net);
/* Bytes of the activation arenas + scratchpads of the cached plans (one per batch size). */
CLIFF_API size_t cliff_net_work_bytes(const cliff_net *net);

/* Layer table: count, and per layer its name (checkpoint prefix), kind ("conv", "maxpool",
 * "avgpool", "upsample") and the oneDNN implementation chosen for batch 1. */
CLIFF_API int cliff_net_num_layers(const cliff_net *net);
CLIFF_API void cliff_net_layer(const cliff_net *net, int i, const char **name, const char **kind,
                               const char **impl);
/* Execute every primitive of batch n separately with a wait after each, reps times;
 * ms (num_layers) receives each layer's median time in milliseconds. */
CLIFF_API cliff_status cliff_net_profile(cliff_net *net, size_t n, int reps, double *ms);

/* ---- preprocessing (crop.c) ---------------------------------------------------------- */

/* ---- rendering (render.c) ------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif
#endif /* CLIFF_H */
