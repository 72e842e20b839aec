/* nn.h - internal interfaces of the network engine (csrc/nn/).
 *
 *   dnnl.c       the only file that calls oneDNN: primitives, packed weights, execution
 *   graph.c      the layer table, liveness buffer plan, per-batch-size plans, execution
 *   resnet.c     ResNet-50 layer table       hrnet.c   HRNet-W48 layer table
 *   regressor.c  the collapsed affine iterative regressor (and its checkpoint keys)
 *   arch.c       checkpoint keys and shapes of a backbone, from the tables, in state_dict order
 *   net.c        the public cliff_net handle (cliff.h, networks section)
 */
#ifndef CLIFF_NN_H
#define CLIFF_NN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* ---- dnnl.c: a small wrapper over the oneDNN C API -------------------------------------- */

typedef enum { NN_F32 = 0, NN_BF16 = 1 } nn_dtype;
typedef enum { PO_RELU = 1, PO_SUM = 2, PO_ADD = 3, PO_LEAKY = 4 } nn_po_kind; /* LEAKY: slope 0.1 */

#define NN_MAX_PO 3
typedef struct {
    int n;
    nn_po_kind kind[NN_MAX_PO];
} nn_postops;

typedef struct nn_engine nn_engine;     /* engine + stream */
typedef struct nn_prim nn_prim;         /* one primitive bound to its memories */
typedef struct nn_packed nn_packed;     /* conv weights in oneDNN's layout + f32 bias */

typedef struct { int n, c, h, w; nn_dtype dt; } nn_shape; /* NHWC activation */

nn_engine *nn_engine_create(void);
void nn_engine_free(nn_engine *e);
/* A new stream on the engine of `parent` (which must outlive it): primitives created with the
 * parent run on it, so concurrent plans (streams, graph.c) each execute on their own stream. */
nn_engine *nn_engine_fork(nn_engine *parent);
size_t nn_dtype_size(nn_dtype dt);
/* 1 when this CPU runs bf16 convolutions with JIT kernels (AVX-512 and up). */
int nn_bf16_supported(void);

/* Convolution. `name` is used in messages. `w` (oc, ic, k, k) float32 and `b` (oc) are used only
 * when *packed is NULL: the weights are then reordered into the layout the primitive picks and
 * *packed receives them (owned by the caller, free with nn_packed_free). A packed set made for
 * another batch size is reused when the layout agrees, else re-reordered from it. The memories
 * live at the given pointers (src, dst, add: the binary-add post-op operand or NULL). */
cliff_status nn_conv(nn_engine *e, const char *name, nn_shape src, nn_shape dst, int k, int stride,
                     int pad, const nn_postops *po, nn_shape add_shape, nn_packed **packed,
                     const float *w, const float *b, void *src_p, void *dst_p, void *add_p,
                     nn_prim **out);
void nn_packed_free(nn_packed *p);
size_t nn_packed_bytes(const nn_packed *p);

/* Pooling: max (k, stride, pad) or average over the whole map when k == 0. */
cliff_status nn_pool(nn_engine *e, const char *name, int is_max, nn_shape src, nn_shape dst,
                     int k, int stride, int pad, void *src_p, void *dst_p, nn_prim **out);

/* Nearest-neighbour resampling src -> dst (integer factor) with post-ops. */
cliff_status nn_upsample(nn_engine *e, const char *name, nn_shape src, nn_shape dst,
                         const nn_postops *po, nn_shape add_shape, void *src_p, void *dst_p,
                         void *add_p, nn_prim **out);

size_t nn_prim_scratchpad(const nn_prim *p);
/* Bind the scratchpad buffer (>= nn_prim_scratchpad bytes) used by every later execution. */
cliff_status nn_prim_set_scratchpad(nn_engine *e, nn_prim *p, void *scratch);
cliff_status nn_prim_exec(nn_engine *e, nn_prim *p, const char *name);
cliff_status nn_wait(nn_engine *e);
void nn_prim_free(nn_prim *p);
/* Implementation name chosen by oneDNN (e.g. "brgconv:avx512_core"). */
const char *nn_prim_impl(const nn_prim *p);

/* The folded float32 bias (oc) of packed conv weights. */
const float *nn_packed_bias(const nn_packed *p);

/* ---- winograd.c: Winograd F(2x2,3x3) / F(4x4,3x3) for stride-1 pad-1 3x3 float32 convs ---- */

typedef enum { NN_CONV_AUTO = 0, NN_CONV_DIRECT = 1, NN_CONV_WINO2 = 2, NN_CONV_WINO4 = 3, NN_CONV_TIMED = 4 } nn_conv_algo;
/* "auto" (docs/performance.md): F(4x4,3x3) up to this many input channels, F(2x2,3x3) above;
 * Winograd candidates only on maps of at least NN_WINO_AUTO_MIN_TILES tiles per image */
#define NN_WINO_AUTO_F4_MAX_IC 128
#define NN_WINO_AUTO_MIN_TILES 16
typedef struct nn_wino nn_wino;

int nn_wino_eligible(nn_shape src, nn_shape dst, int k, int stride, int pad, const nn_postops *po,
                     nn_shape add_shape);
/* U (a*a, ic, kp) = G g G^T of folded weights w (oc, ic, 3, 3), a = m + 2, oc padded with
 * zeros to kp = nn_wino_kp(oc), each position's ic x kp matrix stored as contiguous column
 * panels of 16, 32 or 48 channels (winograd.c); cliff_alloc'd. */
float *nn_wino_weights(int m, const float *w, int oc, int ic);
int nn_wino_kp(int oc);
/* A Winograd layer of tile m x m reading U (borrowed) and bias (oc floats, borrowed), planned
 * for nthr threads. */
cliff_status nn_wino_create(const char *name, int m, nn_shape src, nn_shape dst, const nn_postops *po,
                            const float *U, const float *bias, void *src_p, void *dst_p, void *add_p,
                            int nthr, nn_wino **out);
size_t nn_wino_buffer_bytes(const nn_wino *w, int nthr); /* per-thread blocks, all threads */
void nn_wino_bind(nn_wino *w, void *buf);
void nn_wino_exec(nn_wino *w);
int nn_wino_tile(const nn_wino *w);
/* The layer's kernels' instruction set: "avx512", "avx2" or "sse2" (the CPU's best, or at most
 * the environment's CLIFF_WINOGRAD_ISA, read when the layer is created). */
const char *nn_wino_isa(const nn_wino *W);
void nn_wino_free(nn_wino *w);

/* ---- graph.c: the network as a layer table ---------------------------------------------- */

#define NN_NAME 96
/* printf into a NN_NAME buffer (layer names). */
void g_name(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef enum { OP_CONV = 1, OP_MAXPOOL, OP_AVGPOOL, OP_UPSAMPLE, OP_CONCAT } nn_op;

typedef struct {
    int c, h, w; /* per item; the batch size comes with the plan */
    int is_output; /* a network output (kept f32, live to the end): the pooled feature, YOLO heads */
} nn_tensor;

typedef struct {
    nn_op op;
    char name[NN_NAME]; /* checkpoint key prefix of the conv, e.g. "encoder.layer1.0.conv1" */
    char bn[NN_NAME];   /* its BatchNorm prefix ("" = none) */
    int src, dst, add; /* tensor ids; add = operand of PO_ADD or -1 */
    int k, stride, pad, bias;
    nn_postops po;
    int branch; /* 1 + the HRNet branch of a module's parallel part (BasicBlocks), else 0:
                 * consecutive layers with branch > 0 form a segment whose branches are
                 * independent until the fuse layers after it (branch plans, graph.c) */
} nn_layer;

/* The iterative regressor of a CLIFF family (docs/official.md#families): input features, 6D
 * pose values (6 per joint), betas; the camera is always 3 values. npose == 0: no regressor. */
typedef struct {
    char prefix[16]; /* key prefix of its entries: "" (official CLIFF) or "head." */
    int feat, npose, nbeta;
} nn_head_dims;

typedef struct {
    nn_tensor *t;
    int nt, ct;
    nn_layer *l;
    int nl, cl;
    int input, output;
    int failed; /* allocation failure while building */
    int hr_h, hr_w; /* HRNet builders: size of branch 0 */
    nn_head_dims head; /* the regressor whose keys go with this table (arch keys, checks) */
    int bbox_form;     /* cliff_bbox_form its regressor takes */
    int crop_window, body;
} nn_graph;

/* What a network is made of: a trunk ("hr48" | "res50" | "hr48_720" | "yolov3"), its key prefix
 * and input size, and the regressor after it (head.npose == 0: none). */
typedef struct {
    const char *trunk;
    const char *prefix;
    int h, w;
    nn_head_dims head;
    int bbox_form; /* cliff_bbox_form of the regressor's bbox_info */
    int crop_window, body; /* cliff_window_rule of its crop, cliff_body_kind of its outputs */
} nn_spec;

#define HR720_FEATURES 720

int g_tensor(nn_graph *g, int c, int h, int w);
/* Append a conv: src -> dst (dst created by the caller with g_tensor). Post-ops are given as
 * a string of letters applied in order: 'r' ReLU, 'l' leaky ReLU (slope 0.1), 's' sum onto
 * dst, 'a' binary add of `add`. */
void g_conv(nn_graph *g, const char *name, const char *bn, int src, int dst, int k, int stride,
            int bias, const char *po, int add);
void g_pool(nn_graph *g, nn_op op, const char *name, int src, int dst, int k, int stride, int pad);
void g_upsample(nn_graph *g, const char *name, int src, int dst, const char *po, int add);
/* Channel concatenation dst = [a | b] (same h, w), done in C. */
void g_concat(nn_graph *g, const char *name, int a, int b, int dst);
void g_free(nn_graph *g);

/* Bottleneck block (prefix.conv1..3, bn1..3, downsample.0/1); returns the output tensor. */
int g_bottleneck(nn_graph *g, const char *pfx, int x, int planes, int stride, int downsample);
cliff_status nn_build_resnet50(nn_graph *g);
cliff_status nn_build_hrnet48(nn_graph *g);
/* The HRNet-W48 trunk with BEDLAM's 720-channel conv neck on an h x w input (multiples of 32),
 * keys under `pre` ("backbone."); output: the (720, 1, 1) global average of the neck. */
cliff_status nn_build_hrnet48_720(nn_graph *g, const char *pre, int h, int w);
/* ResNet-50 (torchvision / mmcv layout) on an h x w input, keys under `pre` ("encoder."). */
cliff_status nn_build_resnet50_ex(nn_graph *g, const char *pre, int h, int w);
/* yolo.c: the yolov3.cfg graph; conv i is named "conv_<i>" (BatchNorm "bn_<i>", none on the
 * three head convs, which have a bias instead); the heads are tensors marked is_output, in
 * the order of nn_yolo_heads. */
cliff_status nn_build_yolov3(nn_graph *g);

/* ---- arch.c ----------------------------------------------------------------------------- */

/* Build the layer table of `backbone` ("hr48" | "res50" | "yolov3" | a family name of
 * cliff_family_info) into a zeroed g (freed on failure). */
cliff_status nn_build_graph(nn_graph *g, const char *backbone);
/* The spec of a backbone or family name (CLIFF_EINVAL for an unknown name). */
cliff_status nn_spec_of(const char *name, nn_spec *out);
/* Build the layer table of a spec into a zeroed g (freed on failure). */
cliff_status nn_build_spec(nn_graph *g, const nn_spec *spec);
/* Every checkpoint key of graph g plus the regressor's, with shapes, in PyTorch state_dict
 * order. *keys is one allocation (entries and name strings): free() it. */
cliff_status nn_arch_keys(const nn_graph *g, cliff_arch_key **keys, size_t *count);

#define NN_MAX_BRANCH_GROUPS 4 /* HRNet has at most 4 branches per module */
#define NN_BRANCH_REPLICA (-1) /* nn_plan.replica of a branch plan (the cache key) */

/* A compiled plan for one batch size and thread count: arena offsets by liveness, one
 * scratchpad (max over primitives), every primitive created and bound. */
typedef struct {
    int n, nthr;
    int replica;      /* 0, or the thread group this copy serves (nn_model_plan_replica) */
    nn_engine *e;     /* replica > 0: its own stream on the model's engine; else NULL (m->e) */
    void *arena, *scratch;
    size_t arena_bytes, scratch_bytes;
    size_t *off;      /* per tensor */
    nn_prim **prims;  /* per layer */
    nn_wino **wino;   /* per layer: the Winograd layer that replaces prims[i], or NULL */
    void *wbuf;       /* Winograd transformed input + products, shared by those layers */
    size_t wbuf_bytes;
    /* branch plans (nn_model_plan_branches): the branches of each segment run as ngroups
     * thread groups at once; 0 = an ordinary plan */
    int ngroups;
    signed char *grp;           /* per layer: the group running it, -1 = all nthr threads */
    unsigned char *gnt;         /* per layer with grp >= 0: the threads of its group */
    nn_engine *ge[NN_MAX_BRANCH_GROUPS];     /* groups >= 1: a stream of their own */
    void *gscratch[NN_MAX_BRANCH_GROUPS];    /* groups >= 1: scratchpad of their primitives */
    void *gwbuf[NN_MAX_BRANCH_GROUPS];       /* groups >= 1: buffer of their Winograd layers */
    size_t gscratch_bytes[NN_MAX_BRANCH_GROUPS], gwbuf_bytes[NN_MAX_BRANCH_GROUPS];
} nn_plan;

#define NN_MAX_BATCH 8 /* larger batches run in chunks: bounded arena, no gain beyond (notes 3.3) */
#define NN_MAX_PLANS (2 * NN_MAX_BATCH) /* one cached plan per chunk size: none is ever rebuilt;
                                         * room for the replicas of a split batch as well */
#define NN_MAX_GROUPS NN_MAX_BATCH /* thread groups of a split batch ("streams", net.c) */
typedef struct {
    nn_graph g;
    nn_engine *e;
    nn_dtype dt;
    nn_packed **packed; /* per layer (conv only) */
    char (*impl)[48];   /* per layer: oneDNN implementation chosen for batch 1 */
    nn_plan *plans[NN_MAX_PLANS];
    int nplans;
    size_t weight_bytes;
    /* optional: told when a source array is no longer needed (index into the arrays) */
    void (*release)(void *ctx, size_t index);
    void *release_ctx;
    const void *arrs_base;
    nn_conv_algo algo;     /* CLIFF_CONV: auto (timed per layer shape), direct, winograd2/4 */
    float **wu;            /* per layer: Winograd weights U (layers that run as Winograd) */
    float **wbias;         /* per layer: their bias (oc) */
    struct nn_wino_choice { int ic, oc, h, w, n, nthr, use; } *choice; /* auto: per shape */
    int nchoice, cchoice;
} nn_model;

/* A named float32 array from the checkpoint. */
typedef struct {
    const char *name;
    size_t ndim;
    int64_t shape[4];
    const float *data;
} nn_array;

/* Build the layer table of `backbone` ("hr48" | "res50"), fold and pack the weights, create
 * the batch-1 plan. On failure everything is released. */
cliff_status nn_model_init(nn_model *m, const char *backbone, nn_dtype dt, const nn_array *arrs,
                           size_t narr, void (*release)(void *, size_t), void *release_ctx);
/* The same for any spec (e.g. a bare trunk: {"hr48_720", "backbone.", 224, 224}); the arrays
 * must hold exactly the keys of the table (the trunk's, plus the regressor's when it has one).
 * `what` names the network in messages. */
cliff_status nn_model_init_spec(nn_model *m, const nn_spec *spec, const char *what, nn_dtype dt,
                                const nn_array *arrs, size_t narr, void (*release)(void *, size_t),
                                void *release_ctx);
/* The same with the convolution algorithm: an nn_conv_algo, or -1 for the CLIFF_CONV variable
 * (nn_model_init's choice). */
cliff_status nn_model_init_algo(nn_model *m, const char *backbone, nn_dtype dt, const nn_array *arrs,
                                size_t narr, void (*release)(void *, size_t), void *release_ctx, int algo);
/* Both: a spec and the convolution algorithm. */
cliff_status nn_model_init_spec_algo(nn_model *m, const nn_spec *spec, const char *what, nn_dtype dt,
                                     const nn_array *arrs, size_t narr, void (*release)(void *, size_t),
                                     void *release_ctx, int algo);
void nn_model_free(nn_model *m);
/* Plan for batch n at the current thread count (cached, most recent NN_MAX_PLANS kept). */
cliff_status nn_model_plan(nn_model *m, int n, nn_plan **out);
/* The same for thread group `replica` of a split batch: its own arena, scratchpad and stream
 * (replica > 0), the weights shared; keyed by (n, thread count, replica). */
cliff_status nn_model_plan_replica(nn_model *m, int n, int replica, nn_plan **out);
/* A branch plan for batch n at the current thread count T (docs/performance.md, "HRNet
 * branches as streams"): inside each segment of independent branches (nn_layer.branch), the
 * last G = min(T, branches) branches run at once as G thread groups (about T/G threads each,
 * groups 1..G-1 on threads started per segment, each with its own oneDNN stream, scratchpad and
 * Winograd buffer), the other branches before them on all T threads; the rest of the network
 * as in nn_model_plan. Arena live ranges span whole segments. nn_plan_run runs it. */
cliff_status nn_model_plan_branches(nn_model *m, int n, nn_plan **out);
/* 1 when the table has branch segments (HRNet). */
int nn_graph_has_branches(const nn_graph *g);
void *nn_plan_input(const nn_model *m, const nn_plan *p);        /* NHWC, model dtype */
void *nn_plan_tensor(const nn_model *m, const nn_plan *p, int t); /* NHWC */
const float *nn_plan_output(const nn_model *m, const nn_plan *p); /* (n, features) f32 */
cliff_status nn_plan_run(nn_model *m, nn_plan *p);
/* Run fn on jobs[0 .. G-1] (each `stride` bytes) concurrently, G <= NN_MAX_GROUPS: jobs 1..G-1
 * each on a thread started for the call (an OpenMP initial thread, so it gets a team of its
 * own: oneDNN's OpenMP build runs a primitive serially inside a parallel region), job 0 on the
 * caller; a job whose thread cannot be started runs on the caller after the others. Returns
 * when all are done; the jobs report their own status. */
void nn_run_groups(int G, void *(*fn)(void *), void *jobs, size_t stride);
/* Run layer by layer, waiting after each: ms[i] = time of layer i. */
cliff_status nn_plan_profile(nn_model *m, nn_plan *p, double *ms);

/* ---- regressor.c ------------------------------------------------------------------------ */

#define NN_FEAT CLIFF_FEATURES
#define NN_NPOSE CLIFF_NET_POSE6D
#define NN_NSTATE CLIFF_NET_STATE /* 144 pose + 10 shape + 3 cam */

/* A regressor checkpoint entry: name and float32 shape (ndim 1 or 2). */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[2];
} nn_key_spec;

/* The regressor's checkpoint entries (init_*, fc1, fc2, dec*), in state_dict order. */
const nn_key_spec *nn_regressor_keys(size_t *count);
#define NN_REG_KEYS 13
/* The same for any head dims: names (prefixed) written into names[NN_REG_KEYS][48]. */
void nn_head_keys(const nn_head_dims *d, nn_key_spec *keys, char (*names)[48]);
/* The official CLIFF head: no prefix, 2048 features, 24 joints, 10 betas. */
nn_head_dims nn_head_official(void);

typedef struct {
    nn_head_dims d;
    int nx, ns;   /* feat + 3; npose + nbeta + 3 */
    double *Mx;   /* (nx, ns): feature and bbox part of M = Wdec W2 W1, transposed */
    double *Ms;   /* (ns, ns): state part, transposed */
    double *c;    /* (ns) */
    double *init; /* (ns) */
} nn_regressor;

const nn_array *nn_find(const nn_array *arrs, size_t n, const char *name);
cliff_status nn_regressor_init(nn_regressor *r, const nn_array *arrs, size_t n);
cliff_status nn_regressor_init_dims(nn_regressor *r, const nn_head_dims *d, const nn_array *arrs, size_t n);
void nn_regressor_free(nn_regressor *r);
/* Mx (157, 2051), Ms (157, 157) row-major, c (157), init (157); each may be NULL. */
void nn_regressor_export(const nn_regressor *r, double *Mx, double *Ms, double *c, double *init);
/* feat (n, feat), bbox (n, 3) -> state (n, ns) = [pose6d | betas | cam 3]. */
void nn_regressor_run(const nn_regressor *r, const float *feat, const float *bbox, size_t n,
                      int n_iter, float *state);

/* ---- net.c: running a cliff_net with a caller that writes the input ------------------- */

/* Writes crops i0 .. i0 + b - 1 as (b, 256, 192, 3) NHWC float32 normalised into dst. */
typedef cliff_status (*nn_fill_fn)(void *ctx, size_t i0, size_t b, float *dst);
/* cliff_net_run with the input produced by `fill` chunk by chunk, straight into the plan's
 * input tensor when the engine computes in float32 (through one staging chunk for bf16). */
cliff_status nn_net_run_fill(cliff_net *net, size_t n, nn_fill_fn fill, void *ctx,
                             const float *bbox_info, size_t n_iter, float *features,
                             float *pose6d, float *betas, float *cam);

#endif
