/* arch.c - the checkpoint keys of a backbone, derived from its layer table.
 *
 * The layer tables (resnet.c, hrnet.c) and the regressor's key table (regressor.c) are the one
 * description of both networks. Each conv layer of a table contributes `<name>.weight`
 * (oc, ic, k, k), `<name>.bias` (oc) when it has one, and, when it has a BatchNorm, the five
 * entries `<bn>.weight/bias/running_mean/running_var` (oc) and `<bn>.num_batches_tracked` (a
 * scalar int64). The table runs in execution order; a checkpoint lists its keys in PyTorch
 * `state_dict()` order, which the comparison below recovers from the key names alone. */
#include "nn/nn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch's state_dict() visits a module's own parameters, then its own buffers, then its
 * children in the order they were assigned in __init__ (numbered children of a Sequential or
 * ModuleList in index order). So two keys compare by their first differing dot-separated
 * component: numbers numerically, names by the assignment order below. The order is that of
 * the official CLIFF modules: the CLIFF model (buffers init_*, then encoder, fc1, fc2, decpose,
 * decshape, deccam), the HRNet-W48 classification encoder (conv1, bn1, conv2, bn2, layer1,
 * transition1, stage2, transition2, stage3, transition3, stage4, incre_modules,
 * downsamp_modules, final_layer), torchvision's ResNet (conv1, bn1, layer1..layer4), the
 * Bottleneck / BasicBlock (conv1, bn1, conv2, bn2, conv3, bn3, downsample), HighResolution
 * modules (branches, fuse_layers), and within a conv or BatchNorm weight, bias, running_mean,
 * running_var, num_batches_tracked. Names of the two encoders never meet under one parent, so
 * one list serves both. */
static const char *const assignment_order[] = {
    "init_pose", "init_shape", "init_cam", "encoder", "fc1", "fc2", "decpose", "decshape", "deccam",
    "conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample",
    "layer1", "transition1", "stage2", "transition2", "stage3", "transition3", "stage4",
    "layer2", "layer3", "layer4", "incre_modules", "downsamp_modules", "final_layer",
    "branches", "fuse_layers",
    "weight", "bias", "running_mean", "running_var", "num_batches_tracked",
    /* BEDLAM's HMR (backbone, head) and its HRNet's conv neck after final_layer; mmhuman3d's
     * estimator (backbone, head) */
    "backbone", "head", "downsample_stage_1", "downsample_stage_2", "downsample_stage_3",
};
#define N_ORDER (sizeof assignment_order / sizeof *assignment_order)

/* Rank of a name component (len bytes at s): its position in assignment_order, or -1. */
static int name_rank(const char *s, size_t len) {
    for (size_t i = 0; i < N_ORDER; i++)
        if (strlen(assignment_order[i]) == len && memcmp(assignment_order[i], s, len) == 0) return (int)i;
    return -1;
}

static int is_number(const char *s, size_t len) {
    if (!len) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Every component of `name` is a number or a name of assignment_order. */
static int known_components(const char *name) {
    for (const char *s = name;;) {
        size_t len = strcspn(s, ".");
        if (!is_number(s, len) && name_rank(s, len) < 0) return 0;
        if (!s[len]) return 1;
        s += len + 1;
    }
}

static int cmp_keys(const void *pa, const void *pb) {
    const char *a = ((const cliff_arch_key *)pa)->name, *b = ((const cliff_arch_key *)pb)->name;
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        if (la != lb || memcmp(a, b, la) != 0) {
            int na = is_number(a, la), nb = is_number(b, lb);
            if (na && nb) {
                long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
                return (x > y) - (x < y);
            }
            if (na != nb) return na ? -1 : 1;
            int ra = name_rank(a, la), rb = name_rank(b, lb);
            return (ra > rb) - (ra < rb);
        }
        if (!a[la] || !b[lb]) return (a[la] != 0) - (b[lb] != 0);
        a += la + 1;
        b += lb + 1;
    }
}

typedef char key_name[NN_NAME + 24];

/* A key list under construction: entries, then (same allocation) their name strings. */
typedef struct {
    cliff_arch_key *k;
    key_name *names;
    size_t n, cap;
} key_list;

static void add(key_list *L, const char *prefix, const char *field, int ndim, int64_t d0, int64_t d1,
                int64_t d2, int64_t d3, cliff_dtype dtype) {
    if (L->n >= L->cap) return; /* cannot happen: cap is counted from the table */
    snprintf(L->names[L->n], sizeof L->names[L->n], "%s%s%s", prefix, field[0] ? "." : "", field);
    cliff_arch_key *k = &L->k[L->n];
    k->name = L->names[L->n];
    k->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < 4; i++) k->shape[i] = i < ndim ? d[i] : 0;
    k->dtype = dtype;
    L->n++;
}

cliff_status nn_arch_keys(const nn_graph *g, cliff_arch_key **keys, size_t *count) {
    static const char *bn_fields[4] = {"weight", "bias", "running_mean", "running_var"};
    nn_key_spec reg[NN_REG_KEYS];
    char reg_names[NN_REG_KEYS][48];
    size_t nreg = g->head.npose > 0 ? NN_REG_KEYS : 0;
    if (nreg) nn_head_keys(&g->head, reg, reg_names);
    key_list L = {0};
    L.cap = nreg;
    for (int i = 0; i < g->nl; i++)
        if (g->l[i].op == OP_CONV) L.cap += 7;
    L.k = malloc(L.cap * (sizeof *L.k + sizeof *L.names));
    if (!L.k) return cliff_fail(CLIFF_ENOMEM, "out of memory listing checkpoint keys");
    L.names = (key_name *)(L.k + L.cap);
    for (int i = 0; i < g->nl; i++) {
        const nn_layer *Ly = &g->l[i];
        if (Ly->op != OP_CONV) continue;
        int64_t oc = g->t[Ly->dst].c, ic = g->t[Ly->src].c, k = Ly->k;
        add(&L, Ly->name, "weight", 4, oc, ic, k, k, CLIFF_DTYPE_F32);
        if (Ly->bias) add(&L, Ly->name, "bias", 1, oc, 0, 0, 0, CLIFF_DTYPE_F32);
        if (!Ly->bn[0]) continue;
        for (int f = 0; f < 4; f++) add(&L, Ly->bn, bn_fields[f], 1, oc, 0, 0, 0, CLIFF_DTYPE_F32);
        add(&L, Ly->bn, "num_batches_tracked", 0, 0, 0, 0, 0, CLIFF_DTYPE_I64);
    }
    for (size_t i = 0; i < nreg; i++)
        add(&L, reg[i].name, "", reg[i].ndim, reg[i].shape[0], reg[i].shape[1], 0, 0, CLIFF_DTYPE_F32);
    for (size_t i = 0; i < L.n; i++)
        if (!known_components(L.k[i].name)) {
            cliff_status st = cliff_fail(CLIFF_EINVAL, "internal: key '%s' has a component missing from "
                                         "the state_dict order table (csrc/nn/arch.c)", L.k[i].name);
            free(L.k);
            return st;
        }
    qsort(L.k, L.n, sizeof *L.k, cmp_keys); /* the names stay where they are */
    *keys = L.k;
    *count = L.n;
    return CLIFF_OK;
}

/* ---- families (docs/official.md#families) ------------------------------------------------ */

/* One row per released CLIFF network: what it is made of and how its file is laid out. The
 * official two keep their backbone names ("hr48", "res50"); the others are created by family
 * name. */
static const cliff_family families[] = {
    {"cliff-hr48", "hr48", "hr48", "", "", "official CLIFF (huawei-noah/noah-research), res/hr48-...pt",
     256, 192, CLIFF_BBOX_RELEASED, CLIFF_FEATURES, 24, 10, CLIFF_BODY_SMPL, 0, CLIFF_WINDOW_CLIFF, 1.1},
    {"cliff-res50", "res50", "res50", "", "", "official CLIFF (huawei-noah/noah-research), res/res50-...pt",
     256, 192, CLIFF_BBOX_RELEASED, CLIFF_FEATURES, 24, 10, CLIFF_BODY_SMPL, 0, CLIFF_WINDOW_CLIFF, 1.1},
    {"mmhuman3d-res50", "mmhuman3d-res50", "res50", "", "body_model_train.;body_model_test.;disc.",
     "open-mmlab/mmhuman3d configs/cliff, resnet50_cliff-8328e2e2_20230327.pth",
     256, 192, CLIFF_BBOX_RELEASED, CLIFF_FEATURES, 24, 10, CLIFF_BODY_SMPL, 0, CLIFF_WINDOW_AFFINE, 1.2},
    {"bedlam-cliff", "bedlam-cliff", "hr48_720", "model.", "backbone.final_layer.;head.downsample_module.",
     "pixelite1201/BEDLAM, cliff.ckpt (real-data CLIFF, SMPL)",
     224, 224, CLIFF_BBOX_PAPER, HR720_FEATURES, 24, 10, CLIFF_BODY_SMPL, 1, CLIFF_WINDOW_SQUARE, 1.0},
    {"bedlam-cliff-x", "bedlam-cliff-x", "hr48_720", "model.", "backbone.final_layer.;head.downsample_module.",
     "pixelite1201/BEDLAM, bedlam_cliff.ckpt (SMPL-X body)",
     224, 224, CLIFF_BBOX_PAPER, HR720_FEATURES, 22, 11, CLIFF_BODY_SMPLX, 1, CLIFF_WINDOW_SQUARE, 1.0},
};
#define N_FAMILIES (sizeof families / sizeof *families)

const cliff_family *cliff_family_get(size_t i) { return i < N_FAMILIES ? &families[i] : NULL; }

cliff_status nn_spec_of(const char *name, nn_spec *out) {
    memset(out, 0, sizeof *out);
    if (name && strcmp(name, "yolov3") == 0) {
        out->trunk = "yolov3";
        out->prefix = "";
        return CLIFF_OK;
    }
    if (name && strcmp(name, "hr48_720") == 0) { /* the bare trunk, BEDLAM's layout and crop */
        *out = (nn_spec){"hr48_720", "backbone.", 224, 224, {"", 0, 0, 0}, CLIFF_BBOX_PAPER, CLIFF_WINDOW_SQUARE, 0};
        return CLIFF_OK;
    }
    for (size_t i = 0; name && i < N_FAMILIES; i++) {
        const cliff_family *f = &families[i];
        if (strcmp(name, f->backbone) != 0) continue;
        int official = f->key_prefix[0] == 0 && f->ignored[0] == 0;
        out->trunk = f->trunk;
        out->prefix = official ? "encoder." : "backbone.";
        out->h = f->crop_height;
        out->w = f->crop_width;
        out->head = (nn_head_dims){"", f->features, 6 * f->joints, f->betas};
        out->bbox_form = (int)f->bbox_info;
        out->crop_window = f->crop_window;
        out->body = (int)f->body;
        if (!official) snprintf(out->head.prefix, sizeof out->head.prefix, "head.");
        return CLIFF_OK;
    }
    return cliff_fail(CLIFF_EINVAL, "backbone: expected 'hr48' or 'res50' (or a family: "
                      "mmhuman3d-res50, bedlam-cliff, bedlam-cliff-x), got '%s'", name ? name : "(null)");
}

cliff_status nn_build_spec(nn_graph *g, const nn_spec *s) {
    memset(g, 0, sizeof *g);
    cliff_status st;
    if (strcmp(s->trunk, "res50") == 0 && strcmp(s->prefix, "encoder.") == 0 && s->h == CLIFF_CROP_HEIGHT &&
        s->w == CLIFF_CROP_WIDTH)
        st = nn_build_resnet50(g);
    else if (strcmp(s->trunk, "res50") == 0)
        st = nn_build_resnet50_ex(g, s->prefix, s->h, s->w);
    else if (strcmp(s->trunk, "hr48") == 0)
        st = nn_build_hrnet48(g);
    else if (strcmp(s->trunk, "hr48_720") == 0)
        st = nn_build_hrnet48_720(g, s->prefix, s->h, s->w);
    else if (strcmp(s->trunk, "yolov3") == 0)
        st = nn_build_yolov3(g);
    else
        return cliff_fail(CLIFF_EINVAL, "trunk: expected 'hr48', 'res50', 'hr48_720' or 'yolov3', got '%s'", s->trunk);
    g->head = s->head;
    g->bbox_form = s->bbox_form;
    g->crop_window = s->crop_window;
    g->body = s->body;
    if (st == CLIFF_OK && g->failed) st = cliff_fail(CLIFF_ENOMEM, "out of memory building the network");
    if (st) g_free(g);
    return st;
}

cliff_status nn_build_graph(nn_graph *g, const char *backbone) {
    memset(g, 0, sizeof *g);
    nn_spec s;
    cliff_status st = nn_spec_of(backbone, &s);
    if (st) return st;
    return nn_build_spec(g, &s);
}

/* ---- public: cliff_net_arch_keys ---------------------------------------------------------- */

static const char *const backbones[] = {"hr48", "res50"};
#define N_BACKBONES (sizeof backbones / sizeof *backbones)
/* arch-key tables: the backbones, then every family (by backbone name), then the bare trunk */
static const char *const table_names[] = {"hr48", "res50", "mmhuman3d-res50", "bedlam-cliff",
                                          "bedlam-cliff-x", "hr48_720"};
#define N_TABLES (sizeof table_names / sizeof *table_names)

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static cliff_arch_key *tables[N_TABLES]; /* built on first use, kept for the process */
static size_t table_sizes[N_TABLES];

const char *cliff_net_backbone_name(size_t i) { return i < N_BACKBONES ? backbones[i] : NULL; }

cliff_status cliff_net_arch_keys(const char *backbone, const cliff_arch_key **keys, size_t *n_keys) {
    if (!keys || !n_keys) return cliff_fail(CLIFF_EINVAL, "cliff_net_arch_keys: keys and n_keys are required");
    *keys = NULL;
    *n_keys = 0;
    size_t b = 0;
    while (b < N_TABLES && !(backbone && strcmp(backbone, table_names[b]) == 0)) b++;
    if (b == N_TABLES)
        return cliff_fail(CLIFF_EINVAL, "backbone: expected 'hr48' or 'res50' (or a family: "
                          "mmhuman3d-res50, bedlam-cliff, bedlam-cliff-x; or the trunk hr48_720), got '%s'",
                          backbone ? backbone : "(null)");
    cliff_status st = CLIFF_OK;
    pthread_mutex_lock(&table_lock);
    if (!tables[b]) {
        nn_graph g;
        if (!(st = nn_build_graph(&g, backbone))) {
            st = nn_arch_keys(&g, &tables[b], &table_sizes[b]);
            g_free(&g);
        }
    }
    if (!st) {
        *keys = tables[b];
        *n_keys = table_sizes[b];
    }
    pthread_mutex_unlock(&table_lock);
    return st;
}
