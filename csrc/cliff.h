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
/* The SMPL body model (official release, smplx semantics; CLIFF-FACTS 10.3): shape blend, joint
 * regression, pose blend, forward kinematics over `parents`, linear blend skinning.
 * Frame: SMPL's own model frame (y up), metres. Joint order: the 24 SMPL joints, then the 21
 * vertex joints nose, reye, leye, rear, lear, LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe,
 * RHeel, lthumb, lindex, lmiddle, lring, lpinky, rthumb, rindex, rmiddle, rring, rpinky. */
enum {
    CLIFF_SMPL_NUM_VERTICES = 6890,
    CLIFF_SMPL_NUM_JOINTS = 24,
    CLIFF_SMPL_NUM_POSE_FEATURES = 207,  /* 23 non-root joints x 9 entries of (R - I) */
    CLIFF_SMPL_NUM_VERTEX_JOINTS = 21,
    CLIFF_SMPL_NUM_OUTPUT_JOINTS = 45,   /* 24 + 21 */
};

typedef struct cliff_smpl cliff_smpl;

/* Build a model from arrays (all copied; float64, contiguous, V = 6890, J = 24, K = num_betas):
 * v_template (V,3); shapedirs (V,3,K); posedirs (V,3,207); J_regressor (J,V) dense (zeros are
 * skipped); weights (V,J); parents (J,) with parents[0] = -1 and 0 <= parents[j] < j.
 * 0 <= num_betas <= 300. Fails with CLIFF_EINVAL on a bad tree or non-finite values. */
CLIFF_API cliff_status cliff_smpl_create(const double *v_template, const double *shapedirs,
                                         int num_betas, const double *posedirs,
                                         const double *J_regressor, const double *weights,
                                         const int64_t *parents, cliff_smpl **out);
CLIFF_API void cliff_smpl_free(cliff_smpl *model);
CLIFF_API int cliff_smpl_num_betas(const cliff_smpl *model);

/* SMPL vertex index of each of the 21 vertex joints (output joints 24..44). ids (21,). */
CLIFF_API void cliff_smpl_vertex_joint_ids(int32_t *ids);

/* Forward pass for n bodies (float32; smplx's forward with pose2rot = False).
 * rotmats (n,24,3,3) joint rotations, row-major, root first (global orientation);
 * betas (n,k) with 0 <= k <= num_betas (missing components are zero), or NULL with k = 0;
 * transl (n,3) or NULL (zero), added to vertices and joints.
 * Outputs (any may be NULL except joints):
 *   vertices (n,6890,3) posed; joints (n,45,3) posed, transl included;
 *   joints_rest (n,24,3) the shaped rest-pose joints (no pose, no transl).
 * With vertices == NULL only the 21 vertices behind the vertex joints are skinned.
 * Inputs must be finite (not checked here). */
CLIFF_API cliff_status cliff_smpl_forward(cliff_smpl *model, size_t n, const float *rotmats,
                                          const float *betas, int k, const float *transl,
                                          float *vertices, float *joints, float *joints_rest);


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
/* The official CLIFF preprocessing (box -> 256x192 network input), reproduced exactly:
 * centre/scale from cliff_boxes_to_center_scale_f64/_f32in, the integer crop window of the official
 * affine (corners rounded half-to-even on the same float64 values the official NumPy path
 * computes), zero padding outside the image, OpenCV's generic float32 INTER_LINEAR resize of
 * that window to 192x256 (including its same-size copy and exact-2x INTER_AREA cases), and
 * ImageNet normalisation (float32: (v/255 - mean_c)/std_c, RGB order). One pass: the padded
 * window is never materialised. */

#define CLIFF_CROP_HEIGHT 256
#define CLIFF_CROP_WIDTH 192

/* ImageNet statistics of the crops' normalisation, RGB order, as the official code holds them
 * (Python floats rounded to float32): v' = (v / 255 - mean) / std. */
CLIFF_API extern const float cliff_imagenet_mean[3];
CLIFF_API extern const float cliff_imagenet_std[3];

/* `flags` of the crop functions: a layout, optionally | CLIFF_CROP_IPP. */
enum { CLIFF_CROP_NCHW = 0, /* out (n,3,256,192): the official network input layout */
       CLIFF_CROP_NHWC = 1, /* out (n,256,192,3): the engine's layout */
       /* Resize as OpenCV builds with Intel IPP do (every PyPI wheel on x86, hence the
        * official demo there): float64 source coordinates, x = s0 + a*(s1 - s0) with a fused
        * multiply-add. Default: OpenCV's own code (float32 coordinates, s0*(1-a) + s1*a). */
       CLIFF_CROP_IPP = 2 };

/* Official crop window of each (centre, scale): ulbr (n,4) = [ul_x, ul_y, br_x, br_y] pixels,
 * ul inclusive, br exclusive (the window is br - ul pixels wide/high). center (n,2), scale (n,)
 * must be finite with scale > 0 (not checked here; cliff_crop_center_scale checks). */
CLIFF_API void cliff_crop_window(const double *center, const double *scale, size_t n,
                                 int64_t *ulbr);

/* Crops of one image. image (height,width,3) uint8 row-major, channels RGB (bgr = 0) or BGR
 * (bgr != 0; e.g. straight from OpenCV); center (n,2) pixels, scale (n,) (crop height
 * 200*scale pixels) -> out float32 in the layout given by `flags`. EINVAL for a non-finite
 * centre/scale, scale <= 0, an empty window (box too small) or a window over 2^24 pixels on
 * a side. */
CLIFF_API cliff_status cliff_crop_center_scale(const uint8_t *image, size_t height, size_t width,
                                               int bgr, const double *center, const double *scale,
                                               size_t n, int flags, float *out);

/* Same from person boxes xyxy (n,4) = [x1, y1, x2, y2] pixels (x2 >= x1, y2 >= y1, finite)
 * with the official rescale (1.1); centre/scale by cliff_boxes_to_center_scale_f64. Also
 * returns center (n,2) and scale (n,) if non-NULL. */
CLIFF_API cliff_status cliff_crop_boxes(const uint8_t *image, size_t height, size_t width, int bgr,
                                        const double *xyxy, size_t n, double rescale, int flags,
                                        float *out, double *center, double *scale);
/* Same from float32 detections (the official demo's input) with its mixed precision, through
 * cliff_boxes_to_center_scale_f32in. */
CLIFF_API cliff_status cliff_crop_boxes_f32in(const uint8_t *image, size_t height, size_t width,
                                              int bgr, const float *xyxy, size_t n,
                                              double rescale, int flags, float *out,
                                              double *center, double *scale);

/* ---- rendering (render.c) ------------------------------------------------------------ */

enum { CLIFF_RENDER_FRONT = 0, CLIFF_RENDER_SIDE = 1 };

/* Draw meshes into an RGB image with a pinhole camera (OpenCV frame: x right, y down, z
 * forward; u = fx*X/Z + cx, v = fy*Y/Z + cy). One z-buffer for all meshes (correct occlusion
 * between people); smooth Lambert shading from per-vertex normals with a directional light
 * along the optical axis (from the camera) plus ambient: intensity 0.3 + 0.7*|n_z|/|n|,
 * two-sided. Pixel (row y, column x) is covered when its centre (x + 0.5, y + 0.5) lies inside
 * a projected triangle (vertices snapped to 1/256 px, top-left fill rule: the OpenGL
 * convention). Geometry closer than 1 mm to the camera plane is clipped away.
 *
 * rgb (height, width, 3) uint8, modified in place: covered pixels become
 *     round(alpha * 255 * colour * intensity + (1 - alpha) * rgb).
 * vertices (n_meshes, n_verts, 3) metres in the camera frame; faces (n_faces, 3) vertex
 * indices shared by all meshes; fxfy (2,), pp (2,) pixels; colors (n_meshes, 3) RGB in [0, 1];
 * alpha in [0, 1]. view = CLIFF_RENDER_SIDE first turns all meshes as the official demo's side
 * view does: x' = -(z - cz), y' = y, z' = x + cz with cz the mean depth of all vertices (a
 * 90 degree turn about the vertical axis through their centre, moved onto the optical axis).
 * Fails (CLIFF_EINVAL) on sizes outside 1..32768, more than 65535 meshes, a face index out of
 * range, non-finite vertices, a non-positive focal length, colours or alpha outside [0, 1]. */
CLIFF_API cliff_status cliff_render(uint8_t *rgb, int height, int width, const float *vertices,
                                    size_t n_meshes, size_t n_verts, const int64_t *faces,
                                    size_t n_faces, const float *fxfy, const float *pp,
                                    const float *colors, float alpha, int view);
/* ---- fitting (fit.c) ----------------------------------------------------------------- */
/* Per-person refinement of SMPL parameters against 2D keypoints (the annotator's step 2):
 * Levenberg-Marquardt on (axis-angle offsets phi_j of the 24 joint rotations from the initial
 * estimate, R_j = R0_j * Exp(phi_j); betas; translation t), minimising
 *   sum_m conf_m * rho(|uv_m - kp_m|^2 / (sigma_rel * norm)^2)              (2D, robust)
 *   + w_root |phi_0|^2 + w_pose sum_{j>0} |phi_j|^2                          (stay near R0)
 *   + w_betas_init |betas - betas0|^2 + w_shape |betas|^2 + w_transl |t - t0|^2 (metres^-2)
 * with a perspective camera per person (focal, principal point; OpenCV frame). The fitter
 * only needs the parts of SMPL that reach the joints, all float64:
 *   J0 (24,3) rest joints of the template (J_regressor @ v_template), Jdirs (24,3,K)
 *   (J_regressor @ shapedirs), parents (24,) (parents[0] = -1, parents[j] < j),
 *   and for the n_vert vertex joints (SMPL output joints 24..): vt (n_vert,3) template rows,
 *   vdirs (n_vert,3,K) shapedirs rows, vpose (n_vert,3,207) posedirs rows,
 *   vweights (n_vert,24) skinning weights rows.
 * Model joints are numbered 0..23 (SMPL joints) then 24..24+n_vert-1 (vertex joints). */
typedef struct {
    size_t n_betas, n_vert;
    const int64_t *parents;
    const double *J0, *Jdirs, *vt, *vdirs, *vpose, *vweights;
} cliff_fit_body;
enum { CLIFF_ROBUST_NONE = 0, CLIFF_ROBUST_GEMAN_MCCLURE = 1, CLIFF_ROBUST_HUBER = 2 };
typedef struct {
    int max_iter;        /* LM iterations (>= 1) */
    double tol;          /* stop when the relative cost decrease of an accepted step is < tol */
    int robust;          /* CLIFF_ROBUST_* */
    double robust_scale; /* rho's scale, in units of sigma (normalised residual) */
    double sigma_rel;    /* 2D noise scale as a fraction of norm (the person's box height) */
    double w_root, w_pose, w_betas_init, w_shape, w_transl;
} cliff_fit_options;
/* Per-person status codes written to stats[:,4]. */
enum { CLIFF_FIT_OK = 0, CLIFF_FIT_NO_KEYPOINTS = 1, CLIFF_FIT_BEHIND_CAMERA = 2,
       CLIFF_FIT_NOT_FINITE = 3, CLIFF_FIT_NOMEM = 4 };
/* Fit n people (OpenMP over people). Inputs: R0 (n,24,3,3), betas0 (n,K), t0 (n,3) metres,
 * cam (n,3) = [focal, cx, cy] pixels, kp (n,M,3) = [u, v, conf] pixels, kp_joint (M,) model
 * joint of each keypoint (-1 = unused), norm (n,) pixels.
 * Outputs: R (n,24,3,3), betas (n,K), t (n,3), phi (n,24,3) (the fitted offsets), stats (n,5) =
 * [initial and final confidence-weighted mean reprojection error (px), iterations, converged
 * (0/1), status (CLIFF_FIT_*)]. A person whose status is not OK keeps its initial parameters. */
CLIFF_API cliff_status cliff_fit_people(const cliff_fit_body *body, const cliff_fit_options *opt,
                                        size_t n, const double *R0, const double *betas0,
                                        const double *t0, const double *cam, size_t M,
                                        const double *kp, const int64_t *kp_joint,
                                        const double *norm, double *R, double *betas, double *t,
                                        double *phi, double *stats);
/* cliff_fit_people with a chosen start and the objective's parts (issue 17: multi-start,
 * quality). x0 (n, P), P = 72 + K + 3, or NULL: the LM starts at x0 = [phi (24,3) offsets from
 * R0, betas, t] instead of [0, betas0, t0]; the priors stay centred on R0, betas0, t0, so final
 * objectives of different starts of one person are comparable. quality (n,5) or NULL =
 * [objective at the start, final objective, final data term, final prior term, posterior
 * spread of the pelvis-relative SMPL joints in metres: sqrt(mean_i trace(D_i H^-1 D_i^T)),
 * D_i = d(J_i - J_0)/dx, H the Gauss-Newton matrix at the result (-1 if singular)] (0 when
 * the status is not OK). Other arguments and outputs as cliff_fit_people. */
CLIFF_API cliff_status cliff_fit_people_ex(const cliff_fit_body *body,
                                           const cliff_fit_options *opt, size_t n,
                                           const double *R0, const double *betas0,
                                           const double *t0, const double *cam, size_t M,
                                           const double *kp, const int64_t *kp_joint,
                                           const double *norm, const double *x0, double *R,
                                           double *betas, double *t, double *phi, double *stats,
                                           double *quality);
/* The objective of cliff_fit_people (priors centred on R0, betas0, t0) evaluated, without
 * fitting, at the parameters R (n,24,3,3), betas (n,K), t (n,3) (phi_j = Log(R0_j^T R_j)), with
 * the camera cam (n,3). out (n,5) = [objective, data term, prior term, confidence-weighted mean
 * reprojection error (px), status (CLIFF_FIT_*)]; kp_err (n,M) = each keypoint's reprojection
 * error in pixels, -1 where the keypoint is not used (confidence 0, kp_joint -1) or its joint is
 * behind the camera. OpenMP over people. */
CLIFF_API cliff_status cliff_fit_evaluate(const cliff_fit_body *body,
                                          const cliff_fit_options *opt, size_t n,
                                          const double *R0, const double *betas0,
                                          const double *t0, const double *cam, size_t M,
                                          const double *kp, const int64_t *kp_joint,
                                          const double *norm, const double *R,
                                          const double *betas, const double *t, double *out,
                                          double *kp_err);
/* One person's model joints, their projections and analytic Jacobians with respect to the
 * P = 72 + K + 3 parameters (phi (24,3), betas (K), t (3)) at R_j = R0_j * Exp(phi_j).
 * R0 (24,3,3), phi (24,3), betas (K), t (3), cam (3) -> joints (NJ,3) metres, uv (NJ,2) pixels,
 * djoints (NJ,3,P), duv (NJ,2,P), NJ = 24 + n_vert. Points with Z <= 0 get uv = duv = 0. */
CLIFF_API cliff_status cliff_fit_jacobian(const cliff_fit_body *body, const double *R0,
                                          const double *phi, const double *betas,
                                          const double *t, const double *cam, double *joints,
                                          double *uv, double *djoints, double *duv);

#ifdef __cplusplus
}
#endif
#endif /* CLIFF_H */
