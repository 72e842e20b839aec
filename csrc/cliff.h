/* cliff.h - public C API of the cliff core (CLIFF human mesh recovery on the CPU).
 *
 * Conventions (docs/c-api.md says more)
 *  - Versioning: CLIFF_API_VERSION is the version of this header; cliff_api_version() the
 *    version of the library that was linked. They differ only when a program is built against
 *    one header and run against another core: compare them at start-up.
 *  - Errors: every function that can fail returns a cliff_status. On failure (status !=
 *    CLIFF_OK) it sets the calling thread's message, read with cliff_last_error(): one line
 *    naming the argument or step and what was expected. The message is thread-local; a
 *    successful call leaves it untouched (it still holds the last failure of that thread, so
 *    read it only after a failing call). Functions returning void cannot fail (their callers
 *    validate shapes and values, as each comment states).
 *  - Modes are named enum types (cliff_precision, cliff_layout, cliff_resize, cliff_bbox_form,
 *    cliff_render_view, cliff_robust_kind); sizes and counts are size_t.
 *  - Calls with many settings take a parameter struct; start from cliff_*_default_params() and
 *    change the fields you need (new fields get defaults, so old code keeps compiling).
 *  - Arrays are contiguous, row-major, with the shapes given in each comment.
 *  - Units: pixels for image quantities, metres for 3D, OpenCV camera frame
 *    (x right, y down, z forward). SMPL joint order as in the official release.
 *  - Handles are opaque; each has a create or load function and a free function. A handle may be used from
 *    several threads at once: it serializes its own execution.
 *  - No function keeps a pointer to caller memory after it returns, except where a handle is
 *    documented to borrow another handle (cliff_estimator borrows its cliff_net and cliff_smpl).
 */
#ifndef CLIFF_H
#define CLIFF_H

#include <stdbool.h>
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

/* Version of this header's API: bumped on every incompatible change (2: named enums, size_t
 * sizes, parameter structs, cliff_estimator; 3: cliff_fit_options.w_depth appended). */
#define CLIFF_API_VERSION 3
/* CLIFF_API_VERSION of the library that is linked. */
CLIFF_API int cliff_api_version(void);

/* Message of the last failure in the calling thread ("" if the thread never failed). Set by
 * every failing call, left untouched by successful ones; valid until the thread's next
 * failing call. */
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
/* BEDLAM's (its multi-person tracker's) square box: w = x2 - x1, h = y2 - y1, centre
 * (x1 + w/2, y1 + h/2), scale = max(w, h) * rescale / 200 (the crop side is 200*scale pixels). */
CLIFF_API void cliff_boxes_to_center_scale_square_f64(const double *xyxy, size_t n, double rescale,
                                                      double *center, double *scale);
CLIFF_API void cliff_boxes_to_center_scale_f64(const double *xyxy, size_t n, double rescale,
                                               double *center, double *scale);

/* Same from float32 detections with the official mixed precision (NumPy 1.x): x1 + x2 and the
 * box width/height in float32, everything after that in float64. Outputs are float64. */
CLIFF_API void cliff_boxes_to_center_scale_f32in(const float *xyxy, size_t n, double rescale,
                                                 double *center, double *scale);

/* Official focal length guess: the image diagonal sqrt(w^2 + h^2), pixels (float64). */
CLIFF_API double cliff_estimate_focal_length(double img_w, double img_h);

/* Form of CLIFF's bbox_info: the released code's (cx - W/2, cy - H/2, b) / (2.8 f) variant, or
 * the paper's normalisation by f alone (docs/geometry.md). */
typedef enum { CLIFF_BBOX_RELEASED = 0, CLIFF_BBOX_PAPER = 1 } cliff_bbox_form;

/* CLIFF's regressor input. box (n,3) = [cx, cy, b] pixels; pp (n,2) principal point pixels
 * (the official code uses the image centre W/2, H/2); focal (n,) pixels; form = released|paper.
 * -> out (n,3). */
CLIFF_API void cliff_bbox_info_f32(const float *box, const float *pp, const float *focal,
                                   size_t n, cliff_bbox_form form, float *out);
CLIFF_API void cliff_bbox_info_f64(const double *box, const double *pp, const double *focal,
                                   size_t n, cliff_bbox_form form, double *out);

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
/* The SMPL body model (official release, smplx semantics; docs/official.md#smpl-forward): shape blend, joint
 * regression, pose blend, forward kinematics over `parents`, linear blend skinning.
 * Frame: SMPL's own model frame (y up), metres. Joint order: the 24 SMPL joints, then the 21
 * vertex joints nose, right_eye, left_eye, right_ear, left_ear, left_big_toe, left_small_toe,
 * left_heel, right_big_toe, right_small_toe, right_heel, left_thumb, left_index, left_middle,
 * left_ring, left_pinky, right_thumb, right_index, right_middle, right_ring, right_pinky (smplx's
 * names, as cliff.constants.JOINT_NAMES). */
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
                                         size_t num_betas, const double *posedirs,
                                         const double *J_regressor, const double *weights,
                                         const int64_t *parents, cliff_smpl **out);
CLIFF_API void cliff_smpl_free(cliff_smpl *model);
CLIFF_API size_t cliff_smpl_num_betas(const cliff_smpl *model);

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
/* Threads for this model's calls (n > 0), or 0: follow cliff_set_num_threads (default).
 * Several models in one process can so each use their own share of the cores. */
CLIFF_API void cliff_smpl_set_num_threads(cliff_smpl *model, int n);
CLIFF_API int cliff_smpl_get_num_threads(const cliff_smpl *model);
CLIFF_API cliff_status cliff_smpl_forward(cliff_smpl *model, size_t n, const float *rotmats,
                                          const float *betas, size_t k, const float *transl,
                                          float *vertices, float *joints, float *joints_rest);

/* The parts of the model that the fitter needs (cliff_fit_body, section "fitting"), float64,
 * from the arrays given to cliff_smpl_create (exact copies, and sums computed in float64):
 *   J0 (24,3) = J_regressor v_template, the template's rest joints;
 *   Jdirs (24,3,k) = J_regressor shapedirs[:, :, :k], their shape directions;
 *   parents (24,);
 *   for the 21 vertex joints (cliff_smpl_vertex_joint_ids, in output joint order 24..44) the rows
 *   of v_template vt (21,3), shapedirs vdirs (21,3,k), posedirs vpose (21,3,207) and weights
 *   vweights (21,24).
 * 0 <= k <= cliff_smpl_num_betas(model). Any output may be NULL. */
CLIFF_API cliff_status cliff_smpl_fit_body(const cliff_smpl *model, size_t k, double *J0,
                                           double *Jdirs, int64_t *parents, double *vt,
                                           double *vdirs, double *vpose, double *vweights);

/* ---- body models: SMPL and SMPL-X (smpl.c) -------------------------------------------- */
/* One handle type for both bodies: a cliff_body IS a cliff_smpl (every cliff_smpl_* function
 * above takes either), so the estimator and the bindings need no second code path. The kind
 * fixes the sizes; the forward pass reads the rotations of the first num_pose_joints joints
 * (SMPL 24; SMPL-X 22 = global orient + 21 body joints, the network's output) and keeps every
 * other joint (SMPL-X: jaw, eyes, 2 x 15 finger joints) at its rest rotation (identity unless
 * rest_rotmats is given; smplx's SMPLXLayer, which BEDLAM uses, rests them at the identity).
 * Expression is zero (its blend shapes are not loaded). docs/smplx.md.
 * Output joints: the J skeleton joints, the vertex joints (SMPL: 21 = smplx's 'smplh' ids; SMPL-X:
 * 21 = smplx's 'smplx' ids, same names and order), then the landmarks (SMPL-X: smplx's 51 static
 * face landmarks, barycentric points of triangles) - SMPL 45, SMPL-X 55 + 21 + 51 = 127 joints,
 * smplx's default joint output for both. */
enum {
    CLIFF_SMPLX_NUM_VERTICES = 10475,
    CLIFF_SMPLX_NUM_FACES = 20908,
    CLIFF_SMPLX_NUM_JOINTS = 55,
    CLIFF_SMPLX_NUM_POSE_FEATURES = 486,  /* 54 non-root joints x 9 */
    CLIFF_SMPLX_NUM_BODY_POSE_JOINTS = 22, /* global orient + 21 body joints */
    CLIFF_SMPLX_NUM_VERTEX_JOINTS = 21,
    CLIFF_SMPLX_NUM_LANDMARKS = 51,
    CLIFF_SMPLX_NUM_OUTPUT_JOINTS = 127,   /* 55 + 21 + 51 */
    CLIFF_BODY_MAX_JOINTS = 55,
};

typedef enum { CLIFF_BODY_SMPL = 0, CLIFF_BODY_SMPLX = 1 } cliff_body_kind;
typedef struct cliff_smpl cliff_body;

typedef struct {
    cliff_body_kind kind;
    size_t num_vertices, num_joints;  /* must be the kind's: SMPL 6890, 24; SMPL-X 10475, 55 */
    size_t num_betas;                 /* K, 0..300 */
    size_t num_pose_joints;           /* rotations forward reads, root first; 0 = all joints */
    /* model arrays, float64 contiguous, copied: v_template (V,3); shapedirs (V,3,K);
     * posedirs (V,3,9(J-1)); J_regressor (J,V) dense; weights (V,J); parents (J,) */
    const double *v_template, *shapedirs, *posedirs, *J_regressor, *weights;
    const int64_t *parents;
    const double *rest_rotmats;       /* (J,3,3) rotations of joints >= num_pose_joints, or NULL = identity */
    /* vertex joints: NULL = the kind's smplx ids (21) */
    size_t num_vertex_joints;
    const int32_t *vertex_joint_ids;
    /* landmarks: (L,3) triangle corners (vertex ids) and (L,3) barycentric weights; L <= 256 */
    size_t num_landmarks;
    const int32_t *landmark_vertices;
    const double *landmark_weights;
    /* triangles (F,3), kept for the caller (render, export); may be 0/NULL */
    size_t num_faces;
    const int32_t *faces;
} cliff_body_params;

CLIFF_API cliff_body_params cliff_body_default_params(void);
CLIFF_API cliff_status cliff_body_create(const cliff_body_params *params, cliff_body **out);
CLIFF_API cliff_body_kind cliff_body_get_kind(const cliff_body *body);
CLIFF_API size_t cliff_body_num_vertices(const cliff_body *body);
CLIFF_API size_t cliff_body_num_joints(const cliff_body *body);        /* skeleton joints J */
CLIFF_API size_t cliff_body_num_pose_joints(const cliff_body *body);   /* rotations per body in forward */
CLIFF_API size_t cliff_body_num_vertex_joints(const cliff_body *body);
CLIFF_API size_t cliff_body_num_landmarks(const cliff_body *body);
CLIFF_API size_t cliff_body_num_output_joints(const cliff_body *body); /* J + vertex joints + landmarks */
CLIFF_API size_t cliff_body_num_faces(const cliff_body *body);
CLIFF_API const int32_t *cliff_body_faces(const cliff_body *body);     /* (F,3) or NULL; owned by body */
CLIFF_API void cliff_body_vertex_joint_ids(const cliff_body *body, int32_t *ids); /* (num_vertex_joints,) */
/* The kind's smplx vertex-joint table (SMPL: 'smplh' ids, SMPL-X: 'smplx' ids, 21 each, same
 * joint names and order); ids may be NULL. Returns the count. */
CLIFF_API size_t cliff_body_default_vertex_joint_ids(cliff_body_kind kind, int32_t *ids);
/* num_betas: cliff_smpl_num_betas; forward: cliff_smpl_forward with rotmats (n, num_pose_joints, 3, 3),
 * vertices (n, V, 3), joints (n, num_output_joints, 3), joints_rest (n, J, 3); threads:
 * cliff_smpl_set_num_threads; free: cliff_smpl_free. cliff_smpl_fit_body is SMPL only. */


/* ---- networks (nn/) ------------------------------------------------------------------ */
/* CLIFF's encoder (HRNet-W48 "hr48" or ResNet-50 "res50") and iterative regressor on oneDNN.
 * Weights come as named float32 arrays with the official checkpoint keys ("module." removed);
 * the key set must equal the architecture's exactly (num_batches_tracked entries may be given
 * with any content). BatchNorm is folded and weights are packed at creation; the arrays are
 * not referenced afterwards. A cliff_net serializes its own execution (safe from several
 * threads). Crops are CLIFF_CROP_HEIGHT x CLIFF_CROP_WIDTH = 256 x 192 (H x W). */

typedef struct cliff_net cliff_net;

typedef struct {
    const char *name;   /* checkpoint key */
    size_t ndim;        /* <= 4 */
    int64_t shape[4];
    const float *data;  /* contiguous float32 */
} cliff_array;

/* Precision of the encoder's convolutions (the regressor is float64 in both). */
typedef enum { CLIFF_PRECISION_FP32 = 0, CLIFF_PRECISION_BF16 = 1 } cliff_precision;

/* Network input size (official crop) and feature width. */
#define CLIFF_CROP_HEIGHT 256
#define CLIFF_CROP_WIDTH 192
#define CLIFF_FEATURES 2048

/* Layout of person crops, shared by the crop functions (what they write) and cliff_net_run
 * (what it reads). The engine computes in NHWC: NHWC_F32 is its own layout (no transpose).
 *   NCHW_F32 (n,3,256,192) float32, ImageNet-normalised: the official network input;
 *   NHWC_F32 (n,256,192,3) float32, ImageNet-normalised;
 *   NHWC_U8  (n,256,192,3) uint8 RGB, normalised inside the network ((x/255 - mean)/std in
 *            float32); network input only (the crop resizes in float). */
typedef enum {
    CLIFF_LAYOUT_NCHW_F32 = 0,
    CLIFF_LAYOUT_NHWC_F32 = 1,
    CLIFF_LAYOUT_NHWC_U8 = 2,
} cliff_layout;

/* release (may be NULL) is called with the index of each array once the engine no longer
 * reads it (a caller handing over its only copy can free it there: peak memory stays near one
 * copy of the weights); every index is released before the function returns. */
CLIFF_API cliff_status cliff_net_create(const char *backbone, cliff_precision precision,
                                        const cliff_array *arrays, size_t n_arrays,
                                        void (*release)(void *ctx, size_t index),
                                        void *release_ctx, cliff_net **out);
CLIFF_API void cliff_net_free(cliff_net *net);

/* How a network runs its stride-1 3x3 float32 convolutions (docs/performance.md, "Our
 * Winograd layers"). Winograd layers compute the same convolution with fewer multiplications;
 * "auto" keeps them only where they are faster, timed per layer shape when the network is
 * created. */
typedef enum {
    CLIFF_CONV_FROM_ENV = -1, /* the CLIFF_CONV environment variable: auto|direct|winograd2|winograd4, unset = auto */
    CLIFF_CONV_AUTO = 0,      /* Winograd where it was measured faster (a fixed rule: F(4x4) up to 128
                               * input channels, F(2x2) above, maps of >= 16 tiles), else direct */
    CLIFF_CONV_DIRECT = 1,    /* oneDNN's direct convolution for every layer */
    CLIFF_CONV_WINOGRAD2 = 2, /* Winograd F(2x2,3x3) on every eligible layer */
    CLIFF_CONV_WINOGRAD4 = 3, /* Winograd F(4x4,3x3) on every eligible layer */
    CLIFF_CONV_TIMED = 4,     /* like AUTO's candidates, each kept only where faster, timed at
                               * creation (fastest, but results may differ between processes) */
} cliff_conv_algo;

/* Batch split across thread groups ("streams", docs/performance.md): a batch chunk of n crops
 * run with T threads may run as G <= min(n, T) groups, each group a plan of about n/G crops on
 * its own arena and oneDNN stream (weights shared) with about T/G threads of its own, all
 * groups at once (groups 1..G-1 on threads started per call). Results are bit-identical to the
 * unsplit call. The value of cliff_net_params.streams: */
#define CLIFF_STREAMS_FROM_ENV (-1) /* the CLIFF_STREAMS environment variable: auto|off|<k>, unset = auto */
#define CLIFF_STREAMS_AUTO 0        /* a fixed rule of n and T (never timing): min(n/2, T) groups
                                     * (so n >= 4 and T >= 2 to split) */
#define CLIFF_STREAMS_OFF 1         /* one group: every layer parallel over all T threads */
#define CLIFF_STREAMS_MAX 8         /* k in 2 .. 8: up to k groups (never more than n or T) */

/* HRNet's parallel branches as concurrent thread groups ("branch streams", docs/performance.md):
 * for a chunk that is not split across groups (cliff_net_params.streams), inside each HRNet
 * module the last min(T, branches) branches run at once, each on a group of about T/G threads
 * with its own oneDNN stream and scratchpad, the other branches before them on all T threads;
 * the fuse layers on all T threads. Results are bit-identical to the sequential run. Networks
 * without branches (ResNet, YOLO) ignore it. The value of cliff_net_params.branch_streams: */
#define CLIFF_BRANCH_STREAMS_FROM_ENV (-1) /* CLIFF_BRANCH_STREAMS: auto|off|on, unset = auto */
#define CLIFF_BRANCH_STREAMS_AUTO 0        /* the fixed rule of docs/performance.md (never timed) */
#define CLIFF_BRANCH_STREAMS_OFF 1         /* every layer on all T threads, one after another */
#define CLIFF_BRANCH_STREAMS_ON 2          /* branch groups whenever T >= 2 and the chunk is not split */

typedef struct {
    cliff_conv_algo conv; /* default CLIFF_CONV_FROM_ENV (so "auto" unless CLIFF_CONV says otherwise) */
    int streams;          /* default CLIFF_STREAMS_FROM_ENV; CLIFF_STREAMS_AUTO, _OFF or 2 .. CLIFF_STREAMS_MAX */
    int branch_streams;   /* default CLIFF_BRANCH_STREAMS_FROM_ENV; CLIFF_BRANCH_STREAMS_AUTO, _OFF or _ON */
} cliff_net_params;

CLIFF_API cliff_net_params cliff_net_default_params(void);
/* cliff_net_create with params (NULL = cliff_net_default_params()). */
CLIFF_API cliff_status cliff_net_create_with_params(const char *backbone, cliff_precision precision,
                                                    const cliff_array *arrays, size_t n_arrays,
                                                    void (*release)(void *ctx, size_t index),
                                                    void *release_ctx, const cliff_net_params *params,
                                                    cliff_net **out);

/* crops (n, ...) in `layout` (see cliff_layout). bbox_info (n,3) (see cliff_bbox_info_f32; may
 * be NULL when only features are wanted, then the regressor outputs must be NULL too).
 * n_iter: regressor iterations (3 in the official code, <= 100). Outputs (each may be NULL):
 * features (n,2048); pose6d (n,144) joint-major 6D; betas (n,10); cam (n,3) = (s, tx, ty).
 * Batches run in chunks of at most 8 crops; each chunk size gets its own cached plan (all 8
 * sizes are kept, so a stream of varying batch sizes never rebuilds one). A chunk may run split
 * across thread groups (cliff_net_params.streams), on replica plans cached the same way. */
CLIFF_API cliff_status cliff_net_run(cliff_net *net, const void *crops, cliff_layout layout,
                                     size_t n, const float *bbox_info, size_t n_iter,
                                     float *features, float *pose6d, float *betas, float *cam);

/* Bytes of the packed weights (encoder + collapsed regressor). */
/* Threads for this network's calls (n > 0), or 0: follow cliff_set_num_threads (default). */
CLIFF_API void cliff_net_set_num_threads(cliff_net *net, int n);
CLIFF_API int cliff_net_get_num_threads(const cliff_net *net);
/* The number of thread groups ("streams", cliff_net_params.streams) a call with a batch of n
 * crops runs each chunk of min(n, 8) crops as, at the net's current thread count (1 = not split). */
CLIFF_API int cliff_net_streams(const cliff_net *net, size_t n);
/* 1 when a call with a batch of n crops runs HRNet's branches as concurrent thread groups
 * (cliff_net_params.branch_streams) at the net's current thread count, else 0. */
CLIFF_API int cliff_net_branch_streams(const cliff_net *net, size_t n);
CLIFF_API size_t cliff_net_weight_bytes(const cliff_net *net);
/* Sizes of a network: its input crop, feature width and regressor outputs (pose6d = 6 x joints;
 * 0 for a bare trunk such as "hr48_720"). The official two: 256 x 192, 2048, 144, 10, 3. */
typedef struct {
    int crop_height, crop_width, features, pose6d, betas, cam;
    cliff_bbox_form bbox_info; /* the bbox_info form its regressor was trained with */
    int crop_window;           /* cliff_window_rule of its release's crop */
    int body;                  /* cliff_body_kind its outputs drive */
} cliff_net_dims;
CLIFF_API void cliff_net_get_dims(const cliff_net *net, cliff_net_dims *out);
/* Bytes of the activation arenas + scratchpads of the cached plans (one per batch size). */
CLIFF_API size_t cliff_net_work_bytes(const cliff_net *net);

/* Layer table: count, and per layer its name (checkpoint prefix), kind ("conv", "maxpool",
 * "avgpool", "upsample") and the oneDNN implementation chosen for batch 1. */
CLIFF_API size_t cliff_net_num_layers(const cliff_net *net);
CLIFF_API void cliff_net_layer(const cliff_net *net, size_t i, const char **name,
                               const char **kind, const char **impl);
/* Multiply-adds per image of layer i: out_c * out_h * out_w * in_c * k * k for a convolution
 * as the table describes it (direct form, whatever algorithm runs it: a Winograd layer does
 * fewer), 0 for the other kinds. For roofline accounting (benchmarks/bench_roofline.py). */
CLIFF_API uint64_t cliff_net_layer_macs(const cliff_net *net, size_t i);
/* Execute every primitive of batch n (1..8) separately with a wait after each, reps times;
 * ms (num_layers) receives each layer's median time in milliseconds. */
CLIFF_API cliff_status cliff_net_profile(cliff_net *net, size_t n, size_t reps, double *ms);

/* ---- networks: architecture and collapsed regressor (nn/arch.c, nn/regressor.c) -------- */
/* The layer tables of csrc/nn/ are the one description of both backbones; these functions
 * read them without loading any weights. */

/* Sizes of the regressor state s = [pose6d (24 x 6, joint-major) | betas | cam (s, tx, ty)]
 * and of its per-item input x = [features (2048) | bbox_info (3)]. */
enum { CLIFF_NET_POSE6D = 144, CLIFF_NET_BETAS = 10, CLIFF_NET_CAM = 3, CLIFF_NET_STATE = 157,
       CLIFF_NET_REGRESSOR_INPUT = 2051 };

typedef enum { CLIFF_DTYPE_F32 = 0, CLIFF_DTYPE_I64 = 1 } cliff_dtype;

/* One checkpoint entry of an architecture. */
typedef struct {
    const char *name;  /* checkpoint key without "module.", e.g. "encoder.layer1.0.bn1.weight" */
    int ndim;          /* 0..4; 0 for BatchNorm num_batches_tracked (a scalar) */
    int64_t shape[4];  /* shape[ndim..3] = 0 */
    cliff_dtype dtype; /* CLIFF_DTYPE_I64 for num_batches_tracked, CLIFF_DTYPE_F32 otherwise */
} cliff_arch_key;

/* Name of backbone i ("hr48", "res50"), NULL when i >= the number of backbones. */
CLIFF_API const char *cliff_net_backbone_name(size_t i);

/* Every checkpoint entry of `backbone` ("hr48": 1967, "res50": 331) in PyTorch state_dict
 * order: init_pose, init_shape, init_cam, the encoder's convolutions and BatchNorms (weight,
 * bias, running_mean, running_var, num_batches_tracked), fc1, fc2, decpose, decshape, deccam.
 * These are the keys cliff_net_create requires. *keys points to a table owned by the library,
 * built on first use and valid until the process ends (thread-safe). EINVAL for an unknown
 * backbone, ENOMEM if the table cannot be built. */
CLIFF_API cliff_status cliff_net_arch_keys(const char *backbone, const cliff_arch_key **keys,
                                           size_t *n_keys);

/* The collapsed regressor, float64 (see nn/regressor.c): one official iteration is
 *   s <- s + Mx x + Ms s + c,    s_0 = init,
 * with M = Wdec W2 W1 split into Mx (157, 2051) (features and bbox_info columns) and Ms
 * (157, 157) (state columns), c = Wdec (W2 b1 + b2) + bdec (157,), init = [init_pose |
 * init_shape | init_cam] (157,). Outputs row-major; each may be NULL. */
CLIFF_API cliff_status cliff_net_regressor(const cliff_net *net, double *Mx, double *Ms, double *c,
                                           double *init);
/* Same computed from checkpoint arrays (only the regressor's 13 entries are read: init_*, fc1,
 * fc2, dec*; others are ignored). EINVAL naming the key when one is missing or misshapen. */
CLIFF_API cliff_status cliff_regressor_collapse(const cliff_array *arrays, size_t n_arrays,
                                                double *Mx, double *Ms, double *c, double *init);

/* ---- network families (nn/arch.c; docs/models.md) ---------------------------------------- */
/* Every released CLIFF network the engine runs, as data: its trunk, input crop, bbox_info
 * normalisation, regressor sizes, body model and checkpoint layout. cliff_net_create and
 * cliff_net_arch_keys take `backbone`; the regressor state is [pose6d (joints x 6) | betas |
 * cam (3)] and its input [features | bbox_info (3)]. */
/* cliff_body_kind (CLIFF_BODY_SMPL, CLIFF_BODY_SMPLX): see the body model section above */
typedef struct {
    const char *name;       /* "cliff-hr48", "cliff-res50", "mmhuman3d-res50", "bedlam-cliff", ... */
    const char *backbone;   /* what cliff_net_create / cliff_net_arch_keys take */
    const char *trunk;      /* "hr48" (2048 neck) | "res50" | "hr48_720" (720-channel conv neck) */
    const char *key_prefix; /* prefix of the network's keys in the file ("model." for Lightning) */
    const char *ignored;    /* ';'-separated key prefixes (after key_prefix) that are not read */
    const char *release;    /* where the weights are published */
    int crop_height, crop_width;
    cliff_bbox_form bbox_info; /* CLIFF_BBOX_RELEASED (CLIFF's scaled form) | CLIFF_BBOX_PAPER (BEDLAM: /f) */
    int features, joints, betas; /* regressor: feature width, 6D joints, betas */
    cliff_body_kind body;
    int lightning; /* 1: a PyTorch Lightning file; keys outside the network's are not read */
    int crop_window;    /* cliff_window_rule of its release's demo crop (crop.c) */
    double box_rescale; /* box enlargement of that crop (CLIFF 1.1, BEDLAM's tracker boxes 1.0) */
} cliff_family;
/* Family i (0, 1: the official hr48, res50), NULL when i >= the number of families. */
CLIFF_API const cliff_family *cliff_family_get(size_t i);

/* ---- detector (nn/yolo.c) ----------------------------------------------------------- */
/* The official demo's person detector: YOLOv3 (darknet yolov3.cfg, 416x416 input, 80 COCO
 * classes) on oneDNN, with the demo's letterbox and post-processing, so that one call turns
 * RGB images into the demo's `detection_all` rows
 *   [image index, x1, y1, x2, y2, objectness, class score, class]  (pixels of the image).
 * Rows come image by image, within an image class by class (ascending), within a class by
 * decreasing objectness after non-maximum suppression. Facts and sources: docs/detect.md. */

typedef struct cliff_detector cliff_detector;

typedef enum {
    CLIFF_DETECT_PERSONS = 0,     /* keep class 0 (person) only, as the demo does */
    CLIFF_DETECT_ALL_CLASSES = 1, /* keep every class (the port's write_results output) */
} cliff_detect_classes;

typedef struct {
    cliff_precision precision;    /* CLIFF_PRECISION_FP32 or _BF16 (creation only) */
    float confidence;             /* a box is a candidate when objectness > confidence (0.5) */
    float nms_iou;                /* suppressed when IoU with a kept box >= nms_iou (0.4) */
    cliff_detect_classes classes; /* CLIFF_DETECT_PERSONS */
    size_t max_per_image;         /* keep at most this many rows per image and class; 0 = all */
} cliff_detector_params;

CLIFF_API cliff_detector_params cliff_detector_default_params(void);

/* Load darknet weights (header: major, minor, revision int32, then images seen as int64 from
 * version 0.2 on, int32 before; then float32 values in cfg order, per convolution BatchNorm
 * beta, gamma, mean, variance or the bias, then the kernel). The size must equal the
 * yolov3.cfg network's exactly (CLIFF_EIO naming the file, the expected and the found size).
 * params may be NULL (defaults). */
CLIFF_API cliff_status cliff_detector_create_from_file(const char *path,
                                                       const cliff_detector_params *params,
                                                       cliff_detector **out);
CLIFF_API void cliff_detector_free(cliff_detector *d);
CLIFF_API size_t cliff_detector_weight_bytes(const cliff_detector *d);

/* Capacity of `rows` (in rows of 8 floats) that is always enough for n_images images. */
CLIFF_API size_t cliff_detector_max_rows(const cliff_detector_params *params, size_t n_images);

/* images[i]: (heights[i], widths[i], 3) uint8 RGB, contiguous. rows: (max_rows, 8) float32;
 * *n_rows receives the count. Images run in batches of up to 8. params may be NULL (the
 * defaults; its precision is ignored). */
CLIFF_API cliff_status cliff_detector_detect(cliff_detector *d, const uint8_t *const *images,
                                             const size_t *heights, const size_t *widths,
                                             size_t n_images, const cliff_detector_params *params,
                                             float *rows, size_t max_rows, size_t *n_rows);

/* Raw network outputs for n network inputs (n, 416, 416, 3) float32 RGB in [0, 1]: the three
 * YOLO head convolutions, NHWC, (n, 13, 13, 255), (n, 26, 26, 255), (n, 52, 52, 255); channel
 * a*85 + k is attribute k of anchor a. Each output may be NULL. */
CLIFF_API cliff_status cliff_detector_heads(cliff_detector *d, const float *input, size_t n,
                                            float *head13, float *head26, float *head52);

/* The demo's letterbox: scale s = min(size/w, size/h), resize to (int(w*s), int(h*s)) with
 * OpenCV's 8-bit INTER_CUBIC (the same bytes), centred on a size x size canvas of 128.
 * image (height, width, 3) uint8 -> out (size, size, 3) uint8, channels kept in order. */
CLIFF_API cliff_status cliff_letterbox_u8(const uint8_t *image, size_t height, size_t width,
                                          size_t size, uint8_t *out);

/* The demo's post-processing alone, on head outputs laid out as cliff_detector_heads gives
 * them, for n images of the given sizes (pixels). */
CLIFF_API cliff_status cliff_yolo_postprocess(const float *head13, const float *head26,
                                              const float *head52, size_t n,
                                              const size_t *heights, const size_t *widths,
                                              const cliff_detector_params *params, float *rows,
                                              size_t max_rows, size_t *n_rows);

/* ---- preprocessing (crop.c) ---------------------------------------------------------- */
/* The official CLIFF preprocessing (box -> 256x192 network input), reproduced exactly:
 * centre/scale from cliff_boxes_to_center_scale_f64/_f32in, the integer crop window of the official
 * affine (corners rounded half-to-even on the same float64 values the official NumPy path
 * computes), zero padding outside the image, OpenCV's generic float32 INTER_LINEAR resize of
 * that window to 192x256 (including its same-size copy and exact-2x INTER_AREA cases), and
 * ImageNet normalisation (float32: (v/255 - mean_c)/std_c, RGB order). One pass: the padded
 * window is never materialised. */

/* The official box padding: a person box is enlarged by this factor before the 4:3 crop. */
#define CLIFF_BOX_RESCALE 1.1

/* ImageNet statistics of the crops' normalisation, RGB order, as the official code holds them
 * (Python floats rounded to float32): v' = (v / 255 - mean) / std. */
CLIFF_API extern const float cliff_imagenet_mean[3];
CLIFF_API extern const float cliff_imagenet_std[3];

/* Which bilinear resize to reproduce:
 *   CLIFF_RESIZE_IPP    what OpenCV builds with Intel IPP compute (every PyPI wheel on x86,
 *                       hence the official demo there): float64 source coordinates,
 *                       x = s0 + a*(s1 - s0) with a fused multiply-add;
 *   CLIFF_RESIZE_OPENCV OpenCV's own code (float32 coordinates, s0*(1-a) + s1*a);
 *   CLIFF_RESIZE_SKIMAGE scikit-image's transform.resize with its defaults, what BEDLAM's demo
 *                       crop calls: a Gaussian anti-aliasing filter per shrunk axis (sigma
 *                       (f - 1)/2, f = window/output, truncated at 4 sigma, mirror borders),
 *                       then bilinear sampling at (d + 0.5) f - 0.5 with mirror borders
 *                       (docs/crop.md#bedlam-resize);
 *   CLIFF_RESIZE_AUTO   the crop window's own release: SKIMAGE for CLIFF_WINDOW_SQUARE (BEDLAM),
 *                       IPP for CLIFF_WINDOW_CLIFF. */
typedef enum { CLIFF_RESIZE_OPENCV = 0, CLIFF_RESIZE_IPP = 1, CLIFF_RESIZE_SKIMAGE = 2,
               CLIFF_RESIZE_AUTO = 3 } cliff_resize;

/* The crop window: CLIFF's (a 4:3 window of 200*scale pixels high, corners rounded half to
 * even, 256 x 192 output) or the square SPIN-style window of BEDLAM's demo (200*scale pixels
 * square, corners truncated toward zero as NumPy's astype(int), out_height x out_width output;
 * boxes become the multi-person tracker's square: centre x1 + w/2, y1 + h/2, side max(w, h)
 * times rescale). docs/crop.md#bedlam. */
/* CLIFF_WINDOW_AFFINE: mmhuman3d's test pipeline (MeshAffine): the same square box (centre
 * x1 + w/2, y1 + h/2, side S = max(w, h) times rescale), the affine map of
 * get_affine_transform (S pixels -> out_width, centred; cv2.getAffineTransform on float32
 * points) and OpenCV 4.x's uint8 warpAffine INTER_LINEAR (fixed point: 1/32-pixel positions,
 * 15-bit weights, result rounded to uint8, zero border); `resize` is not used.
 * docs/crop.md#mmhuman3d. */
typedef enum { CLIFF_WINDOW_CLIFF = 0, CLIFF_WINDOW_SQUARE = 1, CLIFF_WINDOW_AFFINE = 2 } cliff_window_rule;

typedef struct {
    double rescale;      /* box enlargement (official: 1.1); boxes functions only */
    cliff_layout layout; /* CLIFF_LAYOUT_NCHW_F32 (official input) or CLIFF_LAYOUT_NHWC_F32 */
    cliff_resize resize; /* default CLIFF_RESIZE_IPP (the official demo's numbers) */
    bool bgr;            /* the image is BGR (e.g. from OpenCV): channels swapped while reading */
    int out_height, out_width; /* 0, 0 with CLIFF_WINDOW_CLIFF; e.g. 224, 224 with the square one,
                                  256, 192 with the affine one */
    cliff_window_rule window;  /* default CLIFF_WINDOW_CLIFF */
} cliff_crop_params;

/* {rescale 1.1, CLIFF_LAYOUT_NCHW_F32, CLIFF_RESIZE_IPP, bgr false, 0, 0, CLIFF_WINDOW_CLIFF}. */
CLIFF_API cliff_crop_params cliff_crop_default_params(void);

/* Official crop window of each (centre, scale): ulbr (n,4) = [ul_x, ul_y, br_x, br_y] pixels,
 * ul inclusive, br exclusive (the window is br - ul pixels wide/high). center (n,2), scale (n,)
 * must be finite with scale > 0 (not checked here; cliff_crop_center_scale checks). */
CLIFF_API void cliff_crop_window(const double *center, const double *scale, size_t n,
                                 int64_t *ulbr);

/* Crops of one image. image (height,width,3) uint8 row-major, RGB (or BGR with params->bgr);
 * center (n,2) pixels, scale (n,) (crop height 200*scale pixels) -> out float32 in
 * params->layout (params NULL = defaults; rescale is not used here). EINVAL for a non-finite
 * centre/scale, scale <= 0, an empty window (box too small), a window over 2^24 pixels on a
 * side, or a layout other than NCHW_F32/NHWC_F32. */
CLIFF_API cliff_status cliff_crop_center_scale(const uint8_t *image, size_t height, size_t width,
                                               const double *center, const double *scale,
                                               size_t n, const cliff_crop_params *params,
                                               float *out);

/* Same from person boxes xyxy (n,4) = [x1, y1, x2, y2] pixels (x2 >= x1, y2 >= y1, finite)
 * with params->rescale; centre/scale by cliff_boxes_to_center_scale_f64. Also
 * returns center (n,2) and scale (n,) if non-NULL. */
CLIFF_API cliff_status cliff_crop_boxes(const uint8_t *image, size_t height, size_t width,
                                        const double *xyxy, size_t n,
                                        const cliff_crop_params *params, float *out,
                                        double *center, double *scale);
/* Same from float32 detections (the official demo's input) with its mixed precision, through
 * cliff_boxes_to_center_scale_f32in. */
CLIFF_API cliff_status cliff_crop_boxes_f32in(const uint8_t *image, size_t height, size_t width,
                                              const float *xyxy, size_t n,
                                              const cliff_crop_params *params, float *out,
                                              double *center, double *scale);

/* ---- the whole pipeline (estimate.c) --------------------------------------------------- */
/* One call from photos to bodies, the official CLIFF pipeline end to end and bit-identical to
 * composing the calls above: crop (boxes -> centre/scale, written straight into the network's
 * input in its own layout) -> network (bbox_info, encoder, regressor) -> 6D -> rotation
 * matrices and axis-angle, crop camera -> full-frame translation -> SMPL -> projection.
 * Several images (each with its own boxes and camera) go through the network in one batch.
 *
 * A cliff_estimator BORROWS its cliff_net and cliff_smpl: they must outlive it and are not
 * freed by cliff_estimator_free. One estimator may be used from several threads (the net and
 * the body model serialize their own execution). */

typedef struct cliff_estimator cliff_estimator;

typedef struct {
    double rescale;      /* box enlargement (official: 1.1) */
    cliff_resize resize; /* crop resize (default CLIFF_RESIZE_AUTO: the family's release's own,
                            IPP for CLIFF's crop, SKIMAGE for BEDLAM's) */
    size_t n_iter;       /* regressor iterations (official: 3) */
} cliff_estimator_params;

/* {rescale 1.1, CLIFF_RESIZE_AUTO, n_iter 3}. */
CLIFF_API cliff_estimator_params cliff_estimator_default_params(void);

/* net, smpl: borrowed (see above); the SMPL model needs >= 10 shape components. params NULL =
 * defaults. */
CLIFF_API cliff_status cliff_estimator_create(cliff_net *net, cliff_smpl *smpl,
                                              const cliff_estimator_params *params,
                                              cliff_estimator **out);
CLIFF_API void cliff_estimator_free(cliff_estimator *est);

/* A pinhole camera in pixels: projection u = fx X/Z + cx, v = fy Y/Z + cy. CLIFF's single focal
 * length (bbox_info, crop -> full camera) is (fx + fy)/2 and its principal point (cx, cy). */
typedef struct {
    double fx, fy, cx, cy;
} cliff_camera;

/* The official default camera of a width x height image: f = sqrt(W^2 + H^2) (the image
 * diagonal), principal point (W/2, H/2). */
CLIFF_API cliff_camera cliff_camera_default(size_t width, size_t height);

/* One image and its people. */
typedef struct {
    const uint8_t *pixels; /* (height, width, 3) uint8 row-major */
    size_t height, width;
    bool bgr;              /* pixels are BGR (OpenCV); default RGB */
    const double *xyxy;    /* (n_boxes, 4) person boxes [x1, y1, x2, y2] pixels */
    size_t n_boxes;
    cliff_camera camera;   /* fx, fy > 0, finite cx, cy */
} cliff_frame;

/* Outputs for the N people of all frames, in frame order then box order. Each pointer may be
 * NULL (not written); shapes:
 *   rotmat (N,24,3,3), pose (N,72) axis-angle radians, betas (N,10), cam_crop (N,3) = (s,tx,ty),
 *   t_full (N,3) metres, bbox_info (N,3), focal (N,) pixels (CLIFF's single focal),
 *   vertices (N,6890,3) metres (NULL skips the mesh: only the joints are skinned),
 *   joints (N,45,3) metres, joints2d (N,45,2) pixels, all float32 in the full-image camera
 *   frame; center (N,2) pixels and scale (N,) float64 (crop height = 200*scale pixels);
 *   features (N,2048) float32. */
typedef struct {
    float *rotmat, *pose, *betas, *cam_crop, *t_full, *bbox_info, *focal;
    float *vertices, *joints, *joints2d;
    double *center, *scale;
    float *features;  /* (N,2048) the encoder's output, or NULL */
} cliff_estimate_out;

/* All people of n_frames frames (a frame may have no boxes), one network batch. EINVAL names
 * the frame and box at fault (bad image size, box not finite or inverted, crop window empty,
 * camera not positive/finite) before any work is done. */
CLIFF_API cliff_status cliff_estimate_batch(cliff_estimator *est, const cliff_frame *frames,
                                            size_t n_frames, const cliff_estimate_out *out);
/* Same for one frame. */
CLIFF_API cliff_status cliff_estimate(cliff_estimator *est, const cliff_frame *frame,
                                      const cliff_estimate_out *out);

/* ---- rendering (render.c) ------------------------------------------------------------ */

typedef enum { CLIFF_RENDER_FRONT = 0, CLIFF_RENDER_SIDE = 1 } cliff_render_view;

typedef struct {
    float fxfy[2], pp[2];   /* pinhole camera, pixels (fx, fy > 0) */
    const float *colors;    /* (n_meshes, 3) RGB in [0, 1] */
    float alpha;            /* in [0, 1] */
    cliff_render_view view;
} cliff_render_params;

/* {fxfy 0 (must be set), pp 0, colors NULL (must be set), alpha 1, CLIFF_RENDER_FRONT}. */
CLIFF_API cliff_render_params cliff_render_default_params(void);
/* Largest image side and mesh count cliff_render accepts (checked before any allocation). */
enum { CLIFF_RENDER_MAX_SIDE = 32768, CLIFF_RENDER_MAX_MESHES = 65535 };

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
 * indices shared by all meshes; params: camera, colours, alpha, view (cliff_render_params).
 * view = CLIFF_RENDER_SIDE first turns all meshes as the official demo's side
 * view does: x' = -(z - cz), y' = y, z' = x + cz with cz the mean depth of all vertices (a
 * 90 degree turn about the vertical axis through their centre, moved onto the optical axis).
 * Fails (CLIFF_EINVAL) on sizes outside 1..32768, more than 65535 meshes, a face index out of
 * range, non-finite vertices, a non-positive focal length, colours or alpha outside [0, 1]. */
CLIFF_API cliff_status cliff_render(uint8_t *rgb, size_t height, size_t width,
                                    const float *vertices, size_t n_meshes, size_t n_verts,
                                    const int64_t *faces, size_t n_faces,
                                    const cliff_render_params *params);

/* ---- fitting (fit.c) ----------------------------------------------------------------- */
/* Per-person refinement of SMPL parameters against 2D keypoints (the annotator's step 2):
 * Levenberg-Marquardt on (axis-angle offsets phi_j of the 24 joint rotations from the initial
 * estimate, R_j = R0_j * Exp(phi_j); betas; translation t), minimising
 *   sum_m conf_m * rho(|uv_m - kp_m|^2 / (sigma_rel * norm)^2)              (2D, robust)
 *   + w_root |phi_0|^2 + w_pose sum_{j>0} |phi_j|^2                          (stay near R0)
 *   + w_betas_init |betas - betas0|^2 + w_shape |betas|^2 + w_transl |t - t0|^2 (metres^-2)
 *   + w_depth ln(t_z / t0_z)^2                                               (depth, relative)
 *   (+ the optional pose and upright priors of cliff_fit_options)
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
typedef enum {
    CLIFF_ROBUST_NONE = 0, CLIFF_ROBUST_GEMAN_MCCLURE = 1, CLIFF_ROBUST_HUBER = 2
} cliff_robust_kind;
typedef struct {
    size_t max_iter;     /* LM iterations (>= 1) */
    double tol;          /* stop when the relative cost decrease of an accepted step is < tol */
    cliff_robust_kind robust;
    double robust_scale; /* rho's scale, in units of sigma (normalised residual) */
    double sigma_rel;    /* 2D noise scale as a fraction of norm (the person's box height) */
    double w_root, w_pose, w_betas_init, w_shape, w_transl;
    /* Optional population pose prior (SMPLify's max-mixture of Gaussians, docs/annotate.md):
     * over the body joints' axis-angle vectors a = (Log(R_1), ..., Log(R_23)) (69 values, SMPL
     * order, R_j = R0_j Exp(phi_j) the local rotations; the root is not in it) it adds
     *   w_gmm * min_k ( |L_k^T (a - mu_k)|^2 + c_k )
     * with mu_k = gmm_means (gmm_n, 69), L_k = gmm_prec_chol (gmm_n, 69, 69) row-major lower
     * triangular, L_k L_k^T = Sigma_k^-1, and c_k = gmm_const (gmm_n,) (SMPLify's -2 log
     * (w_k / sqrt(det Sigma_k)) up to a shared constant). The best component is re-chosen at
     * every evaluation. gmm_n = 0 (the default) = no such term; gmm_n <= 64. */
    double w_gmm;
    size_t gmm_n;
    const double *gmm_means, *gmm_prec_chol, *gmm_const;
    /* Optional "upright" prior on the root (docs/annotate.md): with u = R_0 e_y the body's up
     * axis (SMPL's y turned by the root rotation R_0 = R0_0 Exp(phi_0)) in the camera frame, it
     * adds w_up * (u_x^2 + u_z^2) / up_sigma^2, a Gaussian on the tilt of the body's vertical
     * from the camera's vertical (-y, OpenCV frame), yaw free; up_sigma in radians (per
     * component; |(u_x, u_z)| = sin of the tilt). w_up = 0 (the default) = no such term;
     * w_up > 0 needs a finite up_sigma > 0. */
    double w_up, up_sigma;
    /* Optional depth prior (docs/annotate.md): w_depth * ln(t_z / t0_z)^2, a log-normal on the
     * distance relative to the start's (a person's box fixes it up to body size and the
     * regressor's scale error); w_depth = 1 / sigma^2 for a relative spread sigma. 0 (the
     * default) = no such term; with w_depth > 0 a person whose t0_z is not > 0 gets
     * CLIFF_FIT_BEHIND_CAMERA. */
    double w_depth;
} cliff_fit_options;
/* {max_iter 30, tol 1e-6, Geman-McClure with scale 3, sigma_rel 0.01, all prior weights 0,
 *  no pose prior (w_gmm 0, gmm_n 0, NULL arrays), no upright prior (w_up 0, up_sigma 0), no
 *  depth prior (w_depth 0)}. */
CLIFF_API cliff_fit_options cliff_fit_default_params(void);
/* Per-person status codes written to stats[:,4]. */
typedef enum { CLIFF_FIT_OK = 0, CLIFF_FIT_NO_KEYPOINTS = 1, CLIFF_FIT_BEHIND_CAMERA = 2,
               CLIFF_FIT_NOT_FINITE = 3, CLIFF_FIT_NOMEM = 4 } cliff_fit_status;
/* The people to fit: R0 (n,24,3,3), betas0 (n,K), t0 (n,3) metres, cam (n,3) = [focal, cx, cy]
 * pixels, kp (n,M,3) = [u, v, conf] pixels, kp_joint (M,) model joint of each keypoint
 * (-1 = unused), norm (n,) pixels. */
typedef struct {
    size_t n, M;
    const double *R0, *betas0, *t0, *cam, *kp, *norm;
    const int64_t *kp_joint;
    /* optional start (n, P), P = 72 + K + 3, or NULL: the fit starts at x0 = [phi (24,3) offsets
     * from R0, betas, t] instead of [0, betas0, t0]; the priors stay centred on R0, betas0, t0,
     * so the final objectives of several starts of one person are comparable. */
    const double *x0;
} cliff_fit_input;
/* R (n,24,3,3), betas (n,K), t (n,3), phi (n,24,3) (the fitted offsets), stats (n,5) =
 * [initial and final confidence-weighted mean reprojection error (px), iterations, converged
 * (0/1), status (cliff_fit_status)]. */
typedef struct {
    double *R, *betas, *t, *phi, *stats;
    /* optional (n,5) or NULL: [objective at the start, final objective, final data term, final
     * prior term, posterior spread of the pelvis-relative SMPL joints in metres:
     * sqrt(mean_i trace(D_i H^-1 D_i^T)), D_i = d(J_i - J_0)/dx, H the Gauss-Newton matrix at the
     * result (-1 if singular)]; 0 when the status is not OK. */
    double *quality;
} cliff_fit_output;
/* Fit in->n people (OpenMP over people); opt NULL = cliff_fit_default_params(). A person whose
 * status is not OK keeps its initial parameters. */
CLIFF_API cliff_status cliff_fit_people(const cliff_fit_body *body, const cliff_fit_options *opt,
                                        const cliff_fit_input *in, const cliff_fit_output *out);
/* The objective of cliff_fit_people (priors centred on in->R0, betas0, t0) evaluated, without
 * fitting, at the parameters R (n,24,3,3), betas (n,K), t (n,3) (phi_j = Log(R0_j^T R_j)), with
 * the camera in->cam (in->x0 is ignored). out (n,5) = [objective, data term, prior term,
 * confidence-weighted mean reprojection error (px), status (cliff_fit_status)]; kp_err (n,M) =
 * each keypoint's reprojection error in pixels, -1 where the keypoint is not used (confidence 0,
 * kp_joint -1) or its joint is behind the camera. OpenMP over people. */
CLIFF_API cliff_status cliff_fit_evaluate(const cliff_fit_body *body, const cliff_fit_options *opt,
                                          const cliff_fit_input *in, const double *R,
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

/* The pose prior term of opt (opt->gmm_n > 0; w_gmm, gmm_* as in cliff_fit_options) for n sets
 * of rotations R_j = R0_j Exp(phi_j): R0 (n,24,3,3), phi (n,24,3) -> cost (n,) =
 * w_gmm min_k (|L_k^T (a - mu_k)|^2 + c_k), and, if grad is not NULL, grad (n,24,3) its
 * gradient with respect to phi for the chosen component (root entries 0), from the analytic
 * Jacobian the fitter uses. */
CLIFF_API cliff_status cliff_fit_pose_prior(const cliff_fit_options *opt, size_t n,
                                            const double *R0, const double *phi, double *cost,
                                            double *grad);
/* The upright prior term of opt (w_up > 0, up_sigma > 0 as in cliff_fit_options) for n roots
 * R_0 = R0 Exp(phi): R0 (n,3,3), phi (n,3) -> cost (n,) = w_up (u_x^2 + u_z^2) / up_sigma^2
 * (u = R_0 e_y), and, if grad is not NULL, grad (n,3) its gradient with respect to phi from the
 * fitter's analytic Jacobian. */
CLIFF_API cliff_status cliff_fit_upright_prior(const cliff_fit_options *opt, size_t n,
                                               const double *R0, const double *phi, double *cost,
                                               double *grad);

/* ---- focal length: HumanFoV (fov.c) ----------------------------------------------------- */
/* CameraHMR's HumanFoV camera model: the full image letterboxed to 256 x 256 as its release does
 * (OpenCV INTER_AREA resize to fit, centred on white 255, ImageNet normalisation, RGB), the
 * 720-channel HRNet-W48 trunk, global average pool, fc3(fc1(x)) -> 2 numbers of which the second
 * is the vertical field of view (radians); focal = H / (2 tan(vfov / 2)) pixels of the original
 * image. Facts and sources: docs/official.md ("CameraHMR HumanFoV"), docs/focal.md. A cliff_fov
 * serializes its own execution (safe from several threads). */
typedef struct cliff_fov cliff_fov;
#define CLIFF_FOV_SIZE 256
#define CLIFF_FOV_FEATURES 720

/* arrays: the checkpoint's state_dict (backbone.*, fc1.*, fc3.*; fc2.* and
 * backbone.final_layer.* are unused and ignored). EINVAL naming the key when one is missing,
 * misshapen or unexpected. The arrays are copied (packed); the caller keeps ownership. */
CLIFF_API cliff_status cliff_fov_create(cliff_precision precision, const cliff_array *arrays,
                                        size_t n_arrays, cliff_fov **out);
CLIFF_API void cliff_fov_free(cliff_fov *f);
/* Every entry of the release's cam_model_cleaned.ckpt 'state_dict' (1874) in PyTorch order:
 * backbone.* (with the unused backbone.final_layer), fc1, fc2 (unused), fc3. Table owned by the
 * library (as cliff_net_arch_keys). */
CLIFF_API cliff_status cliff_fov_arch_keys(const cliff_arch_key **keys, size_t *n_keys);
CLIFF_API void cliff_fov_set_num_threads(cliff_fov *f, int n);
CLIFF_API int cliff_fov_get_num_threads(const cliff_fov *f);
CLIFF_API size_t cliff_fov_weight_bytes(const cliff_fov *f);
/* Size of the resized image inside the 256 x 256 canvas (the release's resize_image). EINVAL
 * for an empty image, a side over 2^24, or one that would resize to 0 pixels. */
CLIFF_API cliff_status cliff_fov_letterbox_size(size_t height, size_t width, size_t *new_h,
                                                size_t *new_w);
/* image (height, width, 3) uint8 -> out (256, 256, 3) uint8, channels kept in order. */
CLIFF_API cliff_status cliff_fov_letterbox_u8(const uint8_t *image, size_t height, size_t width,
                                              uint8_t *out);
/* image (height, width, 3) uint8 RGB (bgr: BGR) -> out (256, 256, 3) float32 normalised RGB. */
CLIFF_API cliff_status cliff_fov_preprocess(const uint8_t *image, size_t height, size_t width,
                                            bool bgr, float *out);
/* inputs (n, 256, 256, 3) float32 (as cliff_fov_preprocess writes them) -> raw (n, 2) head
 * outputs (raw[:, 1] = vfov, radians); features (n, 720) pooled trunk output or NULL. */
CLIFF_API cliff_status cliff_fov_run(cliff_fov *f, const float *inputs, size_t n, float *raw,
                                     float *features);
/* n full images (heights[i], widths[i], 3) uint8 -> vfov (n) radians and focal (n) pixels;
 * either may be NULL. Preprocessing and network in one call, batches of up to 8 images. */
CLIFF_API cliff_status cliff_fov_predict(cliff_fov *f, const uint8_t *const *images,
                                         const size_t *heights, const size_t *widths, size_t n,
                                         bool bgr, float *vfov, float *focal);

#ifdef __cplusplus
}
#endif
#endif /* CLIFF_H */
