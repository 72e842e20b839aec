/* net.c - the public cliff_net handle: encoder plan cache + collapsed regressor, input
 * conversion (NCHW float32 or NHWC uint8 -> NHWC arena, f32 or bf16), a mutex serializing
 * execution. */
#include "nn/nn.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define MAX_BATCH NN_MAX_BATCH
#define MAX_ROW 1024 /* widest input a network may have */
#define STREAMS_AUTO_MIN_CROPS 2 /* auto: crops per group at least (docs/performance.md, "Streams") */

struct cliff_net {
    pthread_mutex_t lock;
    nn_model model;
    nn_regressor reg;   /* unused (ns == 0) for a bare trunk */
    atomic_int threads; /* 0 = the process-wide count (cliff_set_num_threads) */
    int h, w, feat;     /* input crop, feature width (from the layer table) */
    int streams;        /* CLIFF_STREAMS_AUTO, _OFF or k groups (resolved from the environment) */
    int branch_streams; /* CLIFF_BRANCH_STREAMS_AUTO, _OFF or _ON (resolved from the environment) */
    int has_branches;   /* the table has branch segments (HRNet) */
};

/* CLIFF_BRANCH_STREAMS: auto | off | on; unset or empty = auto. */
static cliff_status branch_streams_from_env(int *out) {
    const char *v = getenv("CLIFF_BRANCH_STREAMS");
    *out = CLIFF_BRANCH_STREAMS_AUTO;
    if (!v || !*v || strcmp(v, "auto") == 0) return CLIFF_OK;
    if (strcmp(v, "off") == 0) *out = CLIFF_BRANCH_STREAMS_OFF;
    else if (strcmp(v, "on") == 0) *out = CLIFF_BRANCH_STREAMS_ON;
    else return cliff_fail(CLIFF_EINVAL, "CLIFF_BRANCH_STREAMS='%s': expected 'auto', 'off' or 'on'", v);
    return CLIFF_OK;
}

/* Whether a chunk of b crops run unsplit on T threads runs the branches as groups
 * (docs/performance.md, "HRNet branches as streams"). Auto is off: measured on 2 threads it
 * did not pay (see there). */
#define BRANCH_STREAMS_AUTO_ON 0
static int branches_for(const struct cliff_net *net, int b, int T) {
    (void)b;
    if (!net->has_branches || T < 2) return 0;
    if (net->branch_streams == CLIFF_BRANCH_STREAMS_ON) return 1;
    return net->branch_streams == CLIFF_BRANCH_STREAMS_AUTO && BRANCH_STREAMS_AUTO_ON && b <= 2;
}

/* CLIFF_STREAMS: auto | off | k (2 .. CLIFF_STREAMS_MAX); unset or empty = auto. */
static cliff_status streams_from_env(int *out) {
    const char *v = getenv("CLIFF_STREAMS");
    *out = CLIFF_STREAMS_AUTO;
    if (!v || !*v || strcmp(v, "auto") == 0 || strcmp(v, "0") == 0) return CLIFF_OK;
    if (strcmp(v, "off") == 0 || strcmp(v, "1") == 0) {
        *out = CLIFF_STREAMS_OFF;
        return CLIFF_OK;
    }
    char *end;
    long k = strtol(v, &end, 10);
    if (*end || k < 2 || k > CLIFF_STREAMS_MAX)
        return cliff_fail(CLIFF_EINVAL, "CLIFF_STREAMS='%s': expected 'auto', 'off' or a group count 2..%d", v,
                          CLIFF_STREAMS_MAX);
    *out = (int)k;
    return CLIFF_OK;
}

/* Thread groups for a chunk of b crops on T threads (docs/performance.md, "Streams"). The auto
 * rule is fixed (never timed: outputs are bit-identical either way, only the speed differs):
 * min(b / STREAMS_AUTO_MIN_CROPS, T) groups, so that each group has at least 2 crops (every
 * group reads all weights once per pass) and at least one thread; a chunk of fewer than 4
 * crops, or one thread, runs as one team. */
static int groups_for(int streams, int b, int T) {
    int G;
    if (streams == CLIFF_STREAMS_AUTO)
        G = b / STREAMS_AUTO_MIN_CROPS < T ? b / STREAMS_AUTO_MIN_CROPS : T;
    else
        G = streams;
    if (G > b) G = b;
    if (G > T) G = T;
    return G < 1 ? 1 : G;
}

void cliff_net_set_num_threads(cliff_net *net, int n) {
    if (net) atomic_store(&net->threads, n > 0 ? n : 0);
}

int cliff_net_get_num_threads(const cliff_net *net) {
    int n = net ? atomic_load(&((cliff_net *)net)->threads) : 0;
    return n > 0 ? n : cliff_threads();
}

int cliff_net_streams(const cliff_net *net, size_t n) {
    if (!net || n == 0) return 1;
    int b = n < MAX_BATCH ? (int)n : MAX_BATCH;
    return groups_for(net->streams, b, cliff_net_get_num_threads(net));
}

int cliff_net_branch_streams(const cliff_net *net, size_t n) {
    if (!net || n == 0) return 0;
    int b = n < MAX_BATCH ? (int)n : MAX_BATCH, T = cliff_net_get_num_threads(net);
    return groups_for(net->streams, b, T) == 1 && branches_for(net, b, T);
}

cliff_net_params cliff_net_default_params(void) {
    cliff_net_params p = {CLIFF_CONV_FROM_ENV, CLIFF_STREAMS_FROM_ENV, CLIFF_BRANCH_STREAMS_FROM_ENV};
    return p;
}

cliff_status cliff_net_create(const char *backbone, cliff_precision precision, const cliff_array *arrays,
                              size_t n_arrays, void (*release)(void *ctx, size_t index),
                              void *release_ctx, cliff_net **out) {
    return cliff_net_create_with_params(backbone, precision, arrays, n_arrays, release, release_ctx, NULL, out);
}

cliff_status cliff_net_create_with_params(const char *backbone, cliff_precision precision,
                                          const cliff_array *arrays, size_t n_arrays,
                                          void (*release)(void *ctx, size_t index), void *release_ctx,
                                          const cliff_net_params *params, cliff_net **out) {
    cliff_net_params prm = params ? *params : cliff_net_default_params();
    if (!out) return cliff_fail(CLIFF_EINVAL, "cliff_net_create: out is NULL");
    *out = NULL;
    if ((int)prm.conv < CLIFF_CONV_FROM_ENV || (int)prm.conv > CLIFF_CONV_TIMED)
        return cliff_fail(CLIFF_EINVAL, "params->conv: expected a cliff_conv_algo (-1 .. 4), got %d", (int)prm.conv);
    if (prm.streams < CLIFF_STREAMS_FROM_ENV || prm.streams > CLIFF_STREAMS_MAX)
        return cliff_fail(CLIFF_EINVAL, "params->streams: expected -1 (environment), 0 (auto), 1 (off) or 2..%d groups, got %d",
                          CLIFF_STREAMS_MAX, prm.streams);
    if (prm.branch_streams < CLIFF_BRANCH_STREAMS_FROM_ENV || prm.branch_streams > CLIFF_BRANCH_STREAMS_ON)
        return cliff_fail(CLIFF_EINVAL, "params->branch_streams: expected -1 (environment), 0 (auto), 1 (off) or 2 (on), got %d",
                          prm.branch_streams);
    int branch_streams = prm.branch_streams;
    if (branch_streams == CLIFF_BRANCH_STREAMS_FROM_ENV) {
        cliff_status est = branch_streams_from_env(&branch_streams);
        if (est) return est;
    }
    int streams = prm.streams;
    if (streams == CLIFF_STREAMS_FROM_ENV) {
        cliff_status est = streams_from_env(&streams);
        if (est) return est;
    }
    if (precision != CLIFF_PRECISION_FP32 && precision != CLIFF_PRECISION_BF16)
        return cliff_fail(CLIFF_EINVAL, "precision: expected fp32 or bf16");
    if (!backbone) return cliff_fail(CLIFF_EINVAL, "backbone: expected 'hr48' or 'res50'");
    if (precision == CLIFF_PRECISION_BF16 && !nn_bf16_supported())
        return cliff_fail(CLIFF_EINVAL, "precision 'bf16' needs a CPU with AVX-512 (oneDNN reports '%s'); use 'fp32'",
                          cliff_dnnl_isa());
    omp_set_num_threads(cliff_threads());
    cliff_net *net = calloc(1, sizeof *net);
    if (!net) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    const nn_array *arrs = (const nn_array *)arrays; /* same layout */
    _Static_assert(sizeof(nn_array) == sizeof(cliff_array), "nn_array mirrors cliff_array");
    cliff_status st = nn_model_init_algo(&net->model, backbone,
                                         precision == CLIFF_PRECISION_BF16 ? NN_BF16 : NN_F32, arrs, n_arrays,
                                         release, release_ctx, (int)prm.conv);
    if (st) {
        free(net);
        return st;
    }
    const nn_graph *g = &net->model.g;
    if (g->t[g->input].w > MAX_ROW) {
        int w = g->t[g->input].w;
        nn_model_free(&net->model);
        free(net);
        return cliff_fail(CLIFF_EINVAL, "network input width %d exceeds %d", w, MAX_ROW);
    }
    net->h = g->t[g->input].h;
    net->w = g->t[g->input].w;
    net->streams = streams;
    net->branch_streams = branch_streams;
    net->has_branches = nn_graph_has_branches(g);
    net->feat = g->t[g->output].c;
    if (g->head.npose > 0) st = nn_regressor_init_dims(&net->reg, &g->head, arrs, n_arrays);
    for (size_t i = 0; release && i < n_arrays; i++) release(release_ctx, i);
    if (st) {
        nn_model_free(&net->model);
        free(net);
        return st;
    }
    pthread_mutex_init(&net->lock, NULL);
#if defined(__GLIBC__)
    malloc_trim(0); /* give back the heap holes left by the per-layer folding buffers */
#endif
    *out = net;
    return CLIFF_OK;
}

void cliff_net_free(cliff_net *net) {
    if (!net) return;
    nn_model_free(&net->model);
    nn_regressor_free(&net->reg);
    pthread_mutex_destroy(&net->lock);
    free(net);
}

size_t cliff_net_weight_bytes(const cliff_net *net) {
    return net->model.weight_bytes + (size_t)net->reg.ns * (net->reg.nx + net->reg.ns + 2) * sizeof(double);
}

void cliff_net_get_dims(const cliff_net *net, cliff_net_dims *out) {
    memset(out, 0, sizeof *out);
    if (!net) return;
    out->crop_height = net->h;
    out->crop_width = net->w;
    out->features = net->feat;
    out->pose6d = net->reg.d.npose;
    out->betas = net->reg.d.nbeta;
    out->cam = net->reg.ns ? CLIFF_NET_CAM : 0;
    out->bbox_info = (cliff_bbox_form)net->model.g.bbox_form;
    out->crop_window = net->model.g.crop_window;
    out->body = net->model.g.body;
}

size_t cliff_net_work_bytes(const cliff_net *net) {
    size_t b = 0;
    for (int i = 0; i < net->model.nplans; i++) b += net->model.plans[i]->arena_bytes + net->model.plans[i]->scratch_bytes;
    return b;
}

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1); /* round to nearest even (inputs are finite) */
    return (uint16_t)(u >> 16);
}

/* Write n crops into the plan's NHWC input tensor. */
static void load_input(void *dst, nn_dtype dt, const void *crops, cliff_layout layout, size_t n,
                       size_t H, size_t W) {
    const float *mean = cliff_imagenet_mean, *std = cliff_imagenet_std;
    const size_t plane = H * W;
#pragma omp parallel for collapse(2) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t y = 0; y < H; y++) {
            float row[MAX_ROW * 3];
            if (layout == CLIFF_LAYOUT_NCHW_F32) {
                const float *s = (const float *)crops + i * 3 * plane + y * W;
                for (size_t x = 0; x < W; x++)
                    for (int c = 0; c < 3; c++) row[x * 3 + c] = s[c * plane + x];
            } else if (layout == CLIFF_LAYOUT_NHWC_F32) {
                memcpy(row, (const float *)crops + (i * plane + y * W) * 3, W * 3 * sizeof(float));
            } else {
                const uint8_t *s = (const uint8_t *)crops + (i * plane + y * W) * 3;
                for (size_t x = 0; x < W; x++)
                    for (int c = 0; c < 3; c++) row[x * 3 + c] = ((float)s[x * 3 + c] / 255.0f - mean[c]) / std[c];
            }
            size_t o = (i * plane + y * W) * 3;
            if (dt == NN_F32)
                memcpy((float *)dst + o, row, W * 3 * sizeof(float));
            else
                for (size_t k = 0; k < W * 3; k++) ((uint16_t *)dst)[o + k] = to_bf16(row[k]);
        }
}

/* The input of cliff_net_run: caller crops in any layout, copied (and converted) in. */
typedef struct {
    const void *crops;
    cliff_layout layout;
    size_t item_bytes;
    nn_dtype dt;
    size_t h, w;
} crops_input;

typedef cliff_status (*fill_any_fn)(void *ctx, size_t i0, size_t b, void *dst, nn_dtype dt);

static cliff_status fill_crops(void *ctx, size_t i0, size_t b, void *dst, nn_dtype dt) {
    const crops_input *in = ctx;
    load_input(dst, dt, (const char *)in->crops + i0 * in->item_bytes, in->layout, b, in->h, in->w);
    return CLIFF_OK;
}

/* A caller's float32 NHWC fill: straight into the input tensor (f32), or staged (bf16). */
typedef struct {
    nn_fill_fn fill;
    void *ctx;
    float *stage; /* MAX_BATCH crops, bf16 engines only */
    size_t px;    /* values per crop */
} f32_input;

static cliff_status fill_f32(void *ctx, size_t i0, size_t b, void *dst, nn_dtype dt) {
    const f32_input *in = ctx;
    if (dt == NN_F32) return in->fill(in->ctx, i0, b, (float *)dst);
    cliff_status st = in->fill(in->ctx, i0, b, in->stage);
    if (st) return st;
    const size_t count = b * in->px;
    uint16_t *d = dst;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < count; k++) d[k] = to_bf16(in->stage[k]);
    return CLIFF_OK;
}

/* One thread group of a split chunk: its replica plan run on `nthr` threads of its own. */
typedef struct {
    nn_model *m;
    nn_plan *p;
    int nthr;
    cliff_status st;
    char msg[256]; /* the error message (cliff_last_error is per thread) */
} group_job;

static void *group_main(void *arg) {
    group_job *j = arg;
    omp_set_num_threads(j->nthr); /* this thread's OpenMP teams: oneDNN's and the Winograd layers' */
    j->st = nn_plan_run(j->m, j->p);
    if (j->st) snprintf(j->msg, sizeof j->msg, "%s", cliff_last_error());
    return NULL;
}

/* One chunk (crops i0 .. i0 + b - 1) as G thread groups: group g runs its share of the crops
 * on its own replica plan (arena, scratchpad, oneDNN stream; weights shared), made for its
 * share of the T threads. The inputs are written one group after the other with all T threads
 * (the callers' fill functions need not be reentrant). Then groups 1 .. G-1 each run on a
 * thread of their own, started for this call, and group 0 on the calling thread. A thread
 * started with pthread_create is an initial thread to OpenMP, with its own team: oneDNN's
 * OpenMP build runs a primitive serially inside a parallel region (it checks
 * omp_in_parallel()), so groups as members of one "omp parallel" region could only have one
 * thread each (docs/performance.md, "Streams"). */
static cliff_status run_split(cliff_net *net, size_t i0, size_t b, int G, int T, fill_any_fn fill, void *ctx,
                              float *feat) {
    nn_plan *p[NN_MAX_GROUPS];
    size_t first[NN_MAX_GROUPS + 1];
    group_job job[NN_MAX_GROUPS];
    cliff_status st = CLIFF_OK;
    const size_t NF = (size_t)net->feat;
    first[0] = 0;
    for (int g = 0; g < G; g++) {
        first[g + 1] = first[g] + b / (size_t)G + ((size_t)g < b % (size_t)G);
        job[g] = (group_job){&net->model, NULL, T / G + (g < T % G), CLIFF_OK, ""};
    }
    for (int g = 0; g < G && !st; g++) {
        omp_set_num_threads(job[g].nthr); /* a replica plan is made for (and keyed by) its threads */
        st = nn_model_plan_replica(&net->model, (int)(first[g + 1] - first[g]), g + 1, &p[g]);
        job[g].p = p[g];
    }
    omp_set_num_threads(T);
    for (int g = 0; g < G && !st; g++)
        st = fill(ctx, i0 + first[g], first[g + 1] - first[g], nn_plan_input(&net->model, p[g]), net->model.dt);
    if (st) return st;
    nn_run_groups(G, group_main, job, sizeof job[0]);
    omp_set_num_threads(T);
    for (int g = 0; g < G; g++)
        if (job[g].st) return cliff_fail(job[g].st, "%s", job[g].msg);
    for (int g = 0; g < G; g++)
        memcpy(feat + (i0 + first[g]) * NF, nn_plan_output(&net->model, p[g]),
               (first[g + 1] - first[g]) * NF * sizeof(float));
    return CLIFF_OK;
}

static cliff_status run_chunks(cliff_net *net, size_t n, fill_any_fn fill, void *ctx,
                               const float *bbox_info, size_t n_iter, float *features,
                               float *pose6d, float *betas, float *cam) {
    if (!net) return cliff_fail(CLIFF_ESTATE, "the model is closed");
    int want_reg = pose6d || betas || cam;
    if (want_reg && !net->reg.ns) return cliff_fail(CLIFF_EINVAL, "this network (a bare trunk) has no regressor");
    if (want_reg && !bbox_info) return cliff_fail(CLIFF_EINVAL, "bbox_info is required for the regressor");
    if (n_iter > 100) return cliff_fail(CLIFF_EINVAL, "n_iter: expected 0..100, got %zu", n_iter);
    if (n == 0) return CLIFF_OK;
    cliff_status st = CLIFF_OK;
    float *feat = features, *state = NULL;
    const size_t NF = (size_t)net->feat, NS = (size_t)net->reg.ns, NP = (size_t)net->reg.d.npose,
                 NB = (size_t)net->reg.d.nbeta;
    if (!feat) feat = malloc(n * NF * sizeof(float));
    if (want_reg) state = malloc(n * NS * sizeof(float));
    if (!feat || (want_reg && !state)) {
        st = cliff_fail(CLIFF_ENOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_lock(&net->lock);
    const int T = cliff_net_get_num_threads(net);
    omp_set_num_threads(T);
    for (size_t i0 = 0; i0 < n && !st; i0 += MAX_BATCH) {
        size_t b = n - i0 < MAX_BATCH ? n - i0 : MAX_BATCH;
        int G = groups_for(net->streams, (int)b, T);
        if (G > 1) {
            st = run_split(net, i0, b, G, T, fill, ctx, feat);
            continue;
        }
        nn_plan *p;
        if (branches_for(net, (int)b, T))
            st = nn_model_plan_branches(&net->model, (int)b, &p);
        else
            st = nn_model_plan(&net->model, (int)b, &p);
        if (st) break;
        if ((st = fill(ctx, i0, b, nn_plan_input(&net->model, p), net->model.dt))) break;
        if ((st = nn_plan_run(&net->model, p))) break;
        memcpy(feat + i0 * NF, nn_plan_output(&net->model, p), b * NF * sizeof(float));
    }
    if (!st && want_reg) nn_regressor_run(&net->reg, feat, bbox_info, n, (int)n_iter, state);
    pthread_mutex_unlock(&net->lock);
    if (!st && want_reg)
        for (size_t i = 0; i < n; i++) {
            const float *s = state + i * NS;
            if (pose6d) memcpy(pose6d + i * NP, s, NP * sizeof(float));
            if (betas) memcpy(betas + i * NB, s + NP, NB * sizeof(float));
            if (cam) memcpy(cam + i * 3, s + NP + NB, 3 * sizeof(float));
        }
done:
    if (feat != features) free(feat);
    free(state);
    return st;
}

cliff_status cliff_net_run(cliff_net *net, const void *crops, cliff_layout layout, size_t n,
                           const float *bbox_info, size_t n_iter, float *features, float *pose6d,
                           float *betas, float *cam) {
    if (!net) return cliff_fail(CLIFF_ESTATE, "the model is closed");
    const size_t px = 3 * (size_t)net->h * net->w;
    crops_input in = {crops, layout, 0, net->model.dt, (size_t)net->h, (size_t)net->w};
    if (layout == CLIFF_LAYOUT_NCHW_F32 || layout == CLIFF_LAYOUT_NHWC_F32)
        in.item_bytes = px * sizeof(float);
    else if (layout == CLIFF_LAYOUT_NHWC_U8)
        in.item_bytes = px;
    else
        return cliff_fail(CLIFF_EINVAL, "crops: unknown layout %d", (int)layout);
    if (n && !crops) return cliff_fail(CLIFF_EINVAL, "crops: NULL");
    return run_chunks(net, n, fill_crops, &in, bbox_info, n_iter, features, pose6d, betas, cam);
}

cliff_status nn_net_run_fill(cliff_net *net, size_t n, nn_fill_fn fill, void *ctx,
                             const float *bbox_info, size_t n_iter, float *features,
                             float *pose6d, float *betas, float *cam) {
    if (!net) return cliff_fail(CLIFF_ESTATE, "the model is closed");
    f32_input in = {fill, ctx, NULL, 3 * (size_t)net->h * net->w};
    if (net->model.dt != NN_F32 && n) {
        size_t b = n < MAX_BATCH ? n : MAX_BATCH;
        in.stage = cliff_alloc(b * in.px * sizeof(float));
        if (!in.stage) return cliff_fail(CLIFF_ENOMEM, "out of memory");
    }
    cliff_status st = run_chunks(net, n, fill_f32, &in, bbox_info, n_iter, features, pose6d, betas, cam);
    cliff_free(in.stage);
    return st;
}

size_t cliff_net_num_layers(const cliff_net *net) { return (size_t)net->model.g.nl; }

void cliff_net_layer(const cliff_net *net, size_t i, const char **name, const char **kind, const char **impl) {
    static const char *kinds[] = {"?", "conv", "maxpool", "avgpool", "upsample", "concat"};
    const nn_layer *L = &net->model.g.l[i];
    *name = L->name;
    *kind = kinds[L->op];
    *impl = net->model.impl[i];
}

uint64_t cliff_net_layer_macs(const cliff_net *net, size_t i) {
    if (!net || i >= (size_t)net->model.g.nl) return 0;
    const nn_layer *L = &net->model.g.l[i];
    if (L->op != OP_CONV) return 0;
    const nn_tensor *S = &net->model.g.t[L->src], *D = &net->model.g.t[L->dst];
    return (uint64_t)D->c * (uint64_t)D->h * (uint64_t)D->w * (uint64_t)S->c * (uint64_t)L->k * (uint64_t)L->k;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cliff_status cliff_net_profile(cliff_net *net, size_t n, size_t reps, double *ms) {
    if (!net) return cliff_fail(CLIFF_ESTATE, "the model is closed");
    if (n < 1 || n > MAX_BATCH) return cliff_fail(CLIFF_EINVAL, "n: expected 1..%d", MAX_BATCH);
    if (reps < 1) reps = 1;
    int nl = net->model.g.nl;
    double *all = malloc((size_t)nl * reps * sizeof(double)), *col = malloc((size_t)reps * sizeof(double));
    if (!all || !col) {
        free(all), free(col);
        return cliff_fail(CLIFF_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&net->lock);
    omp_set_num_threads(cliff_net_get_num_threads(net));
    nn_plan *p;
    cliff_status st = nn_model_plan(&net->model, (int)n, &p);
    if (!st) {
        memset(nn_plan_input(&net->model, p), 0, n * 3 * (size_t)net->h * net->w * nn_dtype_size(net->model.dt));
        st = nn_plan_run(&net->model, p); /* warm-up */
    }
    for (size_t r = 0; r < reps && !st; r++) st = nn_plan_profile(&net->model, p, all + (size_t)r * nl);
    pthread_mutex_unlock(&net->lock);
    for (int i = 0; i < nl && !st; i++) {
        for (size_t r = 0; r < reps; r++) col[r] = all[(size_t)r * nl + i];
        qsort(col, reps, sizeof *col, cmp_double);
        ms[i] = reps % 2 ? col[reps / 2] : 0.5 * (col[reps / 2 - 1] + col[reps / 2]);
    }
    free(all);
    free(col);
    return st;
}

cliff_status cliff_net_regressor(const cliff_net *net, double *Mx, double *Ms, double *c, double *init) {
    if (!net) return cliff_fail(CLIFF_ESTATE, "the model is closed");
    if (!net->reg.ns) return cliff_fail(CLIFF_EINVAL, "this network (a bare trunk) has no regressor");
    nn_regressor_export(&net->reg, Mx, Ms, c, init); /* read-only after creation */
    return CLIFF_OK;
}
