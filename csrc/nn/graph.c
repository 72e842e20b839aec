/* graph.c - the network as a layer table and its execution.
 *
 * A layer reads tensor `src` (and `add` for a binary-add post-op) and writes or, with a sum
 * post-op, accumulates into tensor `dst`. A tensor may thus be written by several layers in
 * sequence (residual blocks accumulate in place, HRNet fuse outputs gather their terms). Its
 * live range runs from the first to the last layer touching it; tensors are packed into one
 * arena by those ranges. At load, BatchNorm (and conv bias) are folded into the conv weights
 * in float64 and the result is packed once into oneDNN's layout. */
#include "nn/nn.h"

#include <math.h>
#include <stdarg.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- building the table ------------------------------------------------------------------ */

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void g_name(char *dst, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, NN_NAME, fmt, ap);
    va_end(ap);
}

int g_tensor(nn_graph *g, int c, int h, int w) {
    if (grow((void **)&g->t, &g->ct, g->nt + 1, sizeof *g->t)) {
        g->failed = 1;
        return 0;
    }
    g->t[g->nt] = (nn_tensor){c, h, w, 0};
    return g->nt++;
}

static nn_layer *g_layer(nn_graph *g, nn_op op, const char *name, int src, int dst) {
    if (g->failed || grow((void **)&g->l, &g->cl, g->nl + 1, sizeof *g->l)) {
        g->failed = 1;
        return NULL;
    }
    nn_layer *L = &g->l[g->nl++];
    memset(L, 0, sizeof *L);
    L->op = op;
    g_name(L->name, "%s", name);
    L->src = src;
    L->dst = dst;
    L->add = -1;
    return L;
}

static void parse_po(nn_postops *po, const char *s) {
    po->n = 0;
    for (; s && *s && po->n < NN_MAX_PO; s++)
        po->kind[po->n++] = *s == 'r' ? PO_RELU : *s == 'l' ? PO_LEAKY : *s == 's' ? PO_SUM : PO_ADD;
}

void g_conv(nn_graph *g, const char *name, const char *bn, int src, int dst, int k, int stride,
            int bias, const char *po, int add) {
    nn_layer *L = g_layer(g, OP_CONV, name, src, dst);
    if (!L) return;
    g_name(L->bn, "%s", bn ? bn : "");
    L->k = k;
    L->stride = stride;
    L->pad = k / 2;
    L->bias = bias;
    L->add = add;
    parse_po(&L->po, po);
}

void g_pool(nn_graph *g, nn_op op, const char *name, int src, int dst, int k, int stride, int pad) {
    nn_layer *L = g_layer(g, op, name, src, dst);
    if (!L) return;
    L->k = k;
    L->stride = stride;
    L->pad = pad;
}

void g_upsample(nn_graph *g, const char *name, int src, int dst, const char *po, int add) {
    nn_layer *L = g_layer(g, OP_UPSAMPLE, name, src, dst);
    if (!L) return;
    L->add = add;
    parse_po(&L->po, po);
}

void g_concat(nn_graph *g, const char *name, int a, int b, int dst) {
    nn_layer *L = g_layer(g, OP_CONCAT, name, a, dst);
    if (L) L->add = b;
}

void g_free(nn_graph *g) {
    free(g->t);
    free(g->l);
    memset(g, 0, sizeof *g);
}

/* ---- weights: lookup, checks, BatchNorm folding ------------------------------------------ */

const nn_array *nn_find(const nn_array *arrs, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(arrs[i].name, name) == 0) return &arrs[i];
    return NULL;
}

static cliff_status need(const nn_array *arrs, size_t n, const char *name, int ndim,
                         const int64_t *shape, const nn_array **out) {
    const nn_array *a = nn_find(arrs, n, name);
    if (!a) return cliff_fail(CLIFF_EINVAL, "missing checkpoint key '%s'", name);
    int ok = a->ndim == (size_t)ndim;
    for (int i = 0; ok && i < ndim; i++) ok = a->shape[i] == shape[i];
    if (!ok) {
        char got[64] = "", want[64] = "";
        for (size_t i = 0; i < a->ndim && i < 4; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), i ? ", %lld" : "%lld", (long long)a->shape[i]);
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), i ? ", %lld" : "%lld", (long long)shape[i]);
        return cliff_fail(CLIFF_EINVAL, "checkpoint key '%s' has shape (%s), expected (%s)", name, got, want);
    }
    *out = a;
    return CLIFF_OK;
}

/* Folded float32 weights (oc, ic, k, k) and bias (oc) of conv layer L. */
static void release(const nn_model *m, const nn_array *a) {
    if (a && m->release) m->release(m->release_ctx, (size_t)(a - (const nn_array *)m->arrs_base));
}

static cliff_status fold(const nn_model *m, const nn_layer *L, const nn_array *arrs, size_t n,
                         float **wout, float **bout) {
    const nn_graph *g = &m->g;
    int oc = g->t[L->dst].c, ic = g->t[L->src].c, k = L->k;
    int64_t ws[4] = {oc, ic, k, k}, vs[1] = {oc};
    char key[128];
    const nn_array *W = NULL, *B = NULL, *gam = NULL, *bet = NULL, *mu = NULL, *var = NULL;
    cliff_status st;
    snprintf(key, sizeof key, "%s.weight", L->name);
    if ((st = need(arrs, n, key, 4, ws, &W))) return st;
    if (L->bias) {
        snprintf(key, sizeof key, "%s.bias", L->name);
        if ((st = need(arrs, n, key, 1, vs, &B))) return st;
    }
    if (L->bn[0]) {
        const char *f[4] = {"weight", "bias", "running_mean", "running_var"};
        const nn_array **d[4] = {&gam, &bet, &mu, &var};
        for (int i = 0; i < 4; i++) {
            snprintf(key, sizeof key, "%s.%s", L->bn, f[i]);
            if ((st = need(arrs, n, key, 1, vs, d[i]))) return st;
        }
    }
    size_t per = (size_t)ic * k * k;
    float *w = cliff_alloc((size_t)oc * per * sizeof(float));
    float *b = cliff_alloc((size_t)oc * sizeof(float));
    if (!w || !b) {
        cliff_free(w);
        cliff_free(b);
        return cliff_fail(CLIFF_ENOMEM, "out of memory folding '%s'", L->name);
    }
    for (int o = 0; o < oc; o++) {
        double scale = 1.0, shift = B ? B->data[o] : 0.0;
        if (gam) {
            scale = (double)gam->data[o] / sqrt((double)var->data[o] + 1e-5);
            shift = (shift - (double)mu->data[o]) * scale + (double)bet->data[o];
        }
        for (size_t i = 0; i < per; i++) w[o * per + i] = (float)((double)W->data[o * per + i] * scale);
        b[o] = (float)shift;
    }
    const nn_array *used[6] = {W, B, gam, bet, mu, var};
    for (int i = 0; i < 6; i++) release(m, used[i]);
    *wout = w;
    *bout = b;
    return CLIFF_OK;
}

/* ---- strict key check ------------------------------------------------------------------- */

static void list_append(char *buf, size_t cap, int *shown, const char *key) {
    if (*shown >= 5) return;
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s'%s'", *shown ? ", " : "", key);
    (*shown)++;
}

static cliff_status check_keys(const nn_graph *g, const char *backbone, const nn_array *arrs, size_t n) {
    size_t ne = 0;
    cliff_arch_key *exp = NULL;
    cliff_status st = nn_arch_keys(g, &exp, &ne); /* the keys the table expects */
    if (st) return st;
    char *seen = calloc(ne + 1, 1);
    if (!seen) {
        free(exp);
        return cliff_fail(CLIFF_ENOMEM, "out of memory checking keys");
    }
    char unexp[400] = "", miss[400] = "";
    int nu = 0, nm = 0, su = 0, sm = 0;
    for (size_t i = 0; i < n; i++) {
        long found = -1;
        for (size_t j = 0; j < ne && found < 0; j++)
            if (!seen[j] && strcmp(exp[j].name, arrs[i].name) == 0) found = (long)j;
        if (found >= 0)
            seen[found] = 1;
        else
            nu++, list_append(unexp, sizeof unexp, &su, arrs[i].name);
    }
    for (size_t j = 0; j < ne; j++)
        if (!seen[j]) nm++, list_append(miss, sizeof miss, &sm, exp[j].name);
    free(exp);
    free(seen);
    if (!nu && !nm) return CLIFF_OK;
    return cliff_fail(CLIFF_EINVAL,
                      "checkpoint keys do not match the %s architecture: %d missing%s%s%s, "
                      "%d unexpected%s%s%s",
                      backbone, nm, nm ? " (" : "", miss, nm > sm ? ", ...)" : nm ? ")" : "", nu,
                      nu ? " (" : "", unexp, nu > su ? ", ...)" : nu ? ")" : "");
}

/* ---- plans -------------------------------------------------------------------------------- */

static nn_shape shape_of(const nn_model *m, int t, int n) {
    const nn_tensor *T = &m->g.t[t];
    nn_shape s = {n, T->c, T->h, T->w, T->is_output ? NN_F32 : m->dt};
    return s;
}

static size_t tensor_bytes(const nn_model *m, int t, int n) {
    nn_shape s = shape_of(m, t, n);
    size_t b = (size_t)s.n * s.c * s.h * s.w * nn_dtype_size(s.dt);
    return (b + 4095) & ~(size_t)4095;
}

/* Greedy interval packing: biggest tensors first, each at the lowest offset that does not
 * overlap (in address) any placed tensor whose live range overlaps its own. */
static cliff_status plan_offsets(const nn_model *m, nn_plan *p) {
    const nn_graph *g = &m->g;
    int nt = g->nt;
    int *first = malloc(nt * sizeof(int)), *last = malloc(nt * sizeof(int)), *order = malloc(nt * sizeof(int));
    size_t *size = malloc(nt * sizeof(size_t));
    int *placed = malloc(nt * sizeof(int));
    p->off = calloc(nt, sizeof(size_t));
    if (!first || !last || !order || !size || !placed || !p->off) {
        free(first), free(last), free(order), free(size), free(placed);
        return cliff_fail(CLIFF_ENOMEM, "out of memory planning buffers");
    }
    for (int t = 0; t < nt; t++) first[t] = g->nl, last[t] = -1, size[t] = tensor_bytes(m, t, p->n);
    for (int i = 0; i < g->nl; i++) {
        const nn_layer *L = &g->l[i];
        int ts[3] = {L->src, L->dst, L->add};
        for (int j = 0; j < 3; j++) {
            if (ts[j] < 0) continue;
            if (i < first[ts[j]]) first[ts[j]] = i;
            if (i > last[ts[j]]) last[ts[j]] = i;
        }
    }
    if (p->grp) /* a branch plan: every tensor a segment touches lives through the whole segment */
        for (int s = 0, e; s < g->nl; s = e) {
            for (e = s + 1; g->l[s].branch && e < g->nl && g->l[e].branch;) e++;
            if (!g->l[s].branch) continue;
            for (int i = s; i < e; i++) {
                const nn_layer *L = &g->l[i];
                int ts[3] = {L->src, L->dst, L->add};
                for (int j = 0; j < 3; j++) {
                    if (ts[j] < 0) continue;
                    if (s < first[ts[j]]) first[ts[j]] = s;
                    if (e - 1 > last[ts[j]]) last[ts[j]] = e - 1;
                }
            }
        }
    first[g->input] = -1;
    last[g->output] = g->nl;
    for (int t = 0; t < nt; t++)
        if (g->t[t].is_output) last[t] = g->nl;
    for (int t = 0; t < nt; t++) order[t] = t;
    for (int i = 1; i < nt; i++) { /* insertion sort by size, descending */
        int v = order[i], j = i;
        while (j > 0 && size[order[j - 1]] < size[v]) order[j] = order[j - 1], j--;
        order[j] = v;
    }
    int np = 0;
    size_t total = 0;
    for (int oi = 0; oi < nt; oi++) {
        int t = order[oi];
        if (last[t] < first[t]) continue; /* unused */
        size_t off = 0;
        for (int again = 1; again;) { /* move past any conflicting placed tensor */
            again = 0;
            for (int k = 0; k < np; k++) {
                int u = placed[k];
                if (last[u] < first[t] || last[t] < first[u]) continue;
                if (off < p->off[u] + size[u] && p->off[u] < off + size[t]) {
                    off = p->off[u] + size[u];
                    again = 1;
                }
            }
        }
        p->off[t] = off;
        placed[np++] = t;
        if (off + size[t] > total) total = off + size[t];
    }
    p->arena_bytes = total;
    free(first), free(last), free(order), free(size), free(placed);
    return CLIFF_OK;
}

static void plan_free(nn_plan *p) {
    if (!p) return;
    if (p->prims)
        for (int i = 0; p->prims[i] != (nn_prim *)-1; i++) {
            nn_prim_free(p->prims[i]);
            if (p->wino) nn_wino_free(p->wino[i]);
        }
    free(p->wino);
    cliff_free(p->wbuf);
    for (int k = 1; k < NN_MAX_BRANCH_GROUPS; k++) {
        nn_engine_free(p->ge[k]);
        cliff_free(p->gscratch[k]);
        cliff_free(p->gwbuf[k]);
    }
    free(p->grp);
    free(p->gnt);
    free(p->prims);
    free(p->off);
    nn_engine_free(p->e);
    cliff_free(p->arena);
    cliff_free(p->scratch);
    free(p);
}

/* ---- Winograd layers (winograd.c): built next to the direct conv, kept where they win ---- */

static double wclock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The Winograd tile of a layer with ic input channels. "auto" takes F(4x4,3x3) up to
 * NN_WINO_AUTO_F4_MAX_IC input channels and F(2x2,3x3) above: F(4x4)'s transformed weights are
 * 36/9 = 4x the direct ones, F(2x2)'s 16/9, and the wide layers hold most of the weights. */
static int wino_tile_of(const nn_model *m, int ic) {
    if (m->algo == NN_CONV_WINO4) return 4;
    if (m->algo == NN_CONV_WINO2) return 2;
    return ic <= NN_WINO_AUTO_F4_MAX_IC ? 4 : 2;
}

/* Whether conv layer L gets a Winograd candidate. "auto" skips maps with fewer than
 * NN_WINO_AUTO_MIN_TILES tiles per image: there the products are too small to amortise the
 * transformed weights (8x6 maps lost to direct convolution with either tile, docs/performance.md). */
static int wino_wanted(const nn_model *m, const nn_layer *L, nn_shape s, nn_shape d, nn_shape a) {
    if (m->algo == NN_CONV_DIRECT || !nn_wino_eligible(s, d, L->k, L->stride, L->pad, &L->po, a)) return 0;
    int t = wino_tile_of(m, s.c);
    int rule = m->algo == NN_CONV_AUTO || m->algo == NN_CONV_TIMED;
    return !rule || ((s.h + t - 1) / t) * ((s.w + t - 1) / t) >= NN_WINO_AUTO_MIN_TILES;
}

static size_t wino_weight_bytes(const nn_model *m, int i) {
    if (!m->wu[i]) return 0;
    const nn_layer *L = &m->g.l[i];
    int ic = m->g.t[L->src].c, oc = m->g.t[L->dst].c, a = wino_tile_of(m, ic) + 2;
    return ((size_t)a * a * ic * nn_wino_kp(oc) + (size_t)oc) * sizeof(float);
}

/* The Winograd variant of conv layer i (w: its folded weights, needed only the first time). */
static cliff_status wino_layer(nn_model *m, nn_plan *p, int i, nn_shape s, nn_shape d,
                               const float *w, const float *b, void *sp, void *dp, void *ap) {
    const nn_layer *L = &m->g.l[i];
    int tile = wino_tile_of(m, s.c);
    if (!m->wu[i]) {
        m->wu[i] = nn_wino_weights(tile, w, d.c, s.c);
        m->wbias[i] = malloc((size_t)d.c * sizeof(float));
        if (!m->wu[i] || !m->wbias[i]) return cliff_fail(CLIFF_ENOMEM, "out of memory transforming '%s'", L->name);
        memcpy(m->wbias[i], b, (size_t)d.c * sizeof(float));
    }
    int gi = p->grp ? p->grp[i] : -1, nthr = gi >= 0 ? p->gnt[i] : p->nthr;
    cliff_status st = nn_wino_create(L->name, tile, s, d, &L->po, m->wu[i], m->wbias[i],
                                     sp, dp, ap, nthr, &p->wino[i]);
    size_t bytes = st ? 0 : nn_wino_buffer_bytes(p->wino[i], nthr);
    if (bytes > p->wbuf_bytes) p->wbuf_bytes = bytes; /* every layer is bound here first (timing) */
    if (gi > 0 && bytes > p->gwbuf_bytes[gi]) p->gwbuf_bytes[gi] = bytes;
    return st;
}

/* The best of 3 alternating runs of each candidate, after one warm-up run each. */
static cliff_status wino_time(nn_model *m, nn_plan *p, int i, int *use) {
    double best[2] = {1e30, 1e30};
    const char *name = m->g.l[i].name;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 2; c++) {
            double t0 = wclock();
            cliff_status st = CLIFF_OK;
            if (c)
                nn_wino_exec(p->wino[i]);
            else
                st = nn_prim_exec(m->e, p->prims[i], name);
            if (!st) st = nn_wait(m->e);
            if (st) return st;
            double t = wclock() - t0;
            if (r > 0 && t < best[c]) best[c] = t;
        }
    *use = best[1] < best[0];
    return CLIFF_OK;
}

/* Bind the Winograd layers to the plan's buffers, then keep per layer the direct conv or the
 * Winograd layer: forced by m->algo, or in "auto" by measured time (cached per layer shape,
 * batch size and thread count, so each shape is timed once per model). */
static cliff_status wino_choose(nn_model *m, nn_plan *p) {
    cliff_status st = CLIFF_OK;
    if (!p->wbuf_bytes) return CLIFF_OK;
    if (!(p->wbuf = cliff_alloc(p->wbuf_bytes)))
        return cliff_fail(CLIFF_ENOMEM, "out of memory: Winograd buffer of %zu bytes", p->wbuf_bytes);
    for (int i = 0; i < m->g.nl; i++)
        if (p->wino[i]) nn_wino_bind(p->wino[i], p->wbuf);
    int zeroed = 0;
    for (int i = 0; i < m->g.nl; i++) {
        if (!p->wino[i]) continue;
        int use = 1;
        if (m->algo == NN_CONV_TIMED && p->prims[i]) { /* no prims[i]: direct weights dropped */
            const nn_layer *L = &m->g.l[i];
            const nn_tensor *S = &m->g.t[L->src], *D = &m->g.t[L->dst];
            int key[6] = {S->c, D->c, S->h, S->w, p->n, p->nthr}, found = -1;
            for (int k = 0; k < m->nchoice && found < 0; k++) {
                const struct nn_wino_choice *c = &m->choice[k];
                if (c->ic == key[0] && c->oc == key[1] && c->h == key[2] && c->w == key[3] &&
                    c->n == key[4] && c->nthr == key[5])
                    found = k;
            }
            if (found >= 0) {
                use = m->choice[found].use;
            } else {
                if (!zeroed) { /* time on zeros, not on whatever the arena held */
                    memset(p->arena, 0, p->arena_bytes);
                    zeroed = 1;
                }
                if ((st = wino_time(m, p, i, &use))) return st;
                if (grow((void **)&m->choice, &m->cchoice, m->nchoice + 1, sizeof *m->choice) == 0)
                    m->choice[m->nchoice++] = (struct nn_wino_choice){key[0], key[1], key[2], key[3],
                                                                      key[4], key[5], use};
            }
        }
        if (use) {
            nn_prim_free(p->prims[i]);
            p->prims[i] = NULL;
        } else {
            nn_wino_free(p->wino[i]);
            p->wino[i] = NULL;
        }
    }
    return CLIFF_OK;
}

/* A branch plan's groups: in each segment of b branches, G = min(T, b) groups; branch
 * b - G + k goes to group k (the smallest maps, which scale worst over threads, run at once),
 * the first b - G branches stay on all T threads; group k gets T/G threads, the first T mod G
 * groups one more. */
static cliff_status branch_assign(const nn_model *m, nn_plan *p) {
    const nn_graph *g = &m->g;
    const int T = p->nthr;
    p->grp = malloc((size_t)g->nl);
    p->gnt = calloc((size_t)g->nl, 1);
    if (!p->grp || !p->gnt) return cliff_fail(CLIFF_ENOMEM, "out of memory creating a plan");
    memset(p->grp, -1, (size_t)g->nl);
    for (int s = 0, e; s < g->nl; s = e) {
        int nb = g->l[s].branch;
        for (e = s + 1; nb && e < g->nl && g->l[e].branch; e++)
            if (g->l[e].branch > nb) nb = g->l[e].branch;
        if (!nb) continue;
        int G = T < nb ? T : nb;
        if (G > NN_MAX_BRANCH_GROUPS) G = NN_MAX_BRANCH_GROUPS;
        if (G < 2) continue;
        for (int i = s; i < e; i++) {
            int k = g->l[i].branch - 1 - (nb - G);
            if (k < 0) continue;
            p->grp[i] = (signed char)k;
            p->gnt[i] = (unsigned char)(T / G + (k < T % G));
            if (k + 1 > p->ngroups) p->ngroups = k + 1;
        }
    }
    return CLIFF_OK;
}

static cliff_status plan_create_ex(nn_model *m, int n, const nn_array *arrs, size_t narr, int branches,
                                   nn_plan **out);

static cliff_status plan_create(nn_model *m, int n, const nn_array *arrs, size_t narr, nn_plan **out) {
    return plan_create_ex(m, n, arrs, narr, 0, out);
}

static cliff_status plan_create_ex(nn_model *m, int n, const nn_array *arrs, size_t narr, int branches,
                                   nn_plan **out) {
    nn_graph *g = &m->g;
    cliff_status st = CLIFF_OK;
    nn_plan *p = calloc(1, sizeof *p);
    if (!p) return cliff_fail(CLIFF_ENOMEM, "out of memory creating a plan");
    p->n = n;
    p->nthr = omp_get_max_threads();
    p->prims = calloc(g->nl + 1, sizeof(nn_prim *));
    if (!p->prims) {
        free(p);
        return cliff_fail(CLIFF_ENOMEM, "out of memory creating a plan");
    }
    p->prims[g->nl] = (nn_prim *)-1;
    p->wino = calloc(g->nl, sizeof(nn_wino *));
    if (!p->wino) {
        st = cliff_fail(CLIFF_ENOMEM, "out of memory creating a plan");
        goto fail;
    }
    if (branches && (st = branch_assign(m, p))) goto fail;
    if ((st = plan_offsets(m, p))) goto fail;
    p->arena = cliff_alloc(p->arena_bytes);
    if (!p->arena) {
        st = cliff_fail(CLIFF_ENOMEM, "out of memory: activation arena of %zu bytes", p->arena_bytes);
        goto fail;
    }
    char *A = p->arena;
    for (int i = 0; i < g->nl; i++) {
        nn_layer *L = &g->l[i];
        nn_shape s = shape_of(m, L->src, n), d = shape_of(m, L->dst, n);
        nn_shape a = L->add >= 0 ? shape_of(m, L->add, n) : d;
        void *sp = A + p->off[L->src], *dp = A + p->off[L->dst];
        void *ap = L->add >= 0 ? A + p->off[L->add] : NULL;
        int gi = p->grp ? p->grp[i] : -1;
        if (gi >= 0) omp_set_num_threads(p->gnt[i]); /* oneDNN sizes a primitive for the creator's threads */
        switch (L->op) {
        case OP_CONV: {
            float *w = NULL, *b = NULL;
            if (!m->packed[i] && !m->wu[i] && (st = fold(m, L, arrs, narr, &w, &b))) goto fail;
            if (m->packed[i] || w) /* the direct candidate (gone where Winograd won at load) */
                st = nn_conv(m->e, L->name, s, d, L->k, L->stride, L->pad, &L->po, a, &m->packed[i], w,
                             b, sp, dp, ap, &p->prims[i]);
            if (!st && (m->wu[i] || w) && wino_wanted(m, L, s, d, a))
                st = wino_layer(m, p, i, s, d, w, b, sp, dp, ap);
            cliff_free(w);
            cliff_free(b);
            break;
        }
        case OP_MAXPOOL:
            st = nn_pool(m->e, L->name, 1, s, d, L->k, L->stride, L->pad, sp, dp, &p->prims[i]);
            break;
        case OP_AVGPOOL: /* done in C (global mean, f32 or bf16 source, f32 result) */
        case OP_CONCAT:  /* done in C (row copies) */
            continue;
        case OP_UPSAMPLE:
            st = nn_upsample(m->e, L->name, s, d, &L->po, a, sp, dp, ap, &p->prims[i]);
            break;
        }
        if (gi >= 0) omp_set_num_threads(p->nthr);
        if (st) goto fail;
        size_t sc = p->prims[i] ? nn_prim_scratchpad(p->prims[i]) : 0;
        if (gi > 0 && sc > p->gscratch_bytes[gi]) p->gscratch_bytes[gi] = sc;
        else if (gi <= 0 && sc > p->scratch_bytes) p->scratch_bytes = sc;
    }
    for (int k = 1; k < p->ngroups; k++) { /* groups >= 1: their own stream and scratchpad */
        p->ge[k] = nn_engine_fork(m->e);
        p->gscratch[k] = cliff_alloc(p->gscratch_bytes[k] ? p->gscratch_bytes[k] : 64);
        if (!p->ge[k] || !p->gscratch[k]) {
            st = cliff_fail(CLIFF_ENOMEM, "out of memory: a branch group's stream or scratchpad");
            goto fail;
        }
    }
    p->scratch = cliff_alloc(p->scratch_bytes ? p->scratch_bytes : 64);
    if (!p->scratch) {
        st = cliff_fail(CLIFF_ENOMEM, "out of memory: scratchpad of %zu bytes", p->scratch_bytes);
        goto fail;
    }
    for (int i = 0; i < g->nl; i++) {
        int gi = p->grp ? p->grp[i] : -1;
        if (p->prims[i] && (st = nn_prim_set_scratchpad(m->e, p->prims[i], gi > 0 ? p->gscratch[gi] : p->scratch)))
            goto fail;
    }
    if ((st = wino_choose(m, p))) goto fail;
    for (int k = 1; k < p->ngroups; k++) { /* groups >= 1: Winograd buffers of their own */
        if (!p->gwbuf_bytes[k]) continue;
        if (!(p->gwbuf[k] = cliff_alloc(p->gwbuf_bytes[k]))) {
            st = cliff_fail(CLIFF_ENOMEM, "out of memory: Winograd buffer of %zu bytes", p->gwbuf_bytes[k]);
            goto fail;
        }
        for (int i = 0; i < g->nl; i++)
            if (p->wino[i] && p->grp[i] == k) nn_wino_bind(p->wino[i], p->gwbuf[k]);
    }
    *out = p;
    return CLIFF_OK;
fail:
    plan_free(p);
    return st;
}

/* ---- model -------------------------------------------------------------------------------- */

/* CLIFF_CONV: how stride-1 3x3 float32 convolutions run (docs/performance.md, Winograd). */
static cliff_status conv_algo_from_env(nn_conv_algo *algo) {
    const char *v = getenv("CLIFF_CONV");
    *algo = NN_CONV_AUTO;
    if (!v || !*v || strcmp(v, "auto") == 0) return CLIFF_OK;
    if (strcmp(v, "direct") == 0) *algo = NN_CONV_DIRECT;
    else if (strcmp(v, "winograd2") == 0) *algo = NN_CONV_WINO2;
    else if (strcmp(v, "winograd4") == 0) *algo = NN_CONV_WINO4;
    else if (strcmp(v, "timed") == 0) *algo = NN_CONV_TIMED;
    else
        return cliff_fail(CLIFF_EINVAL, "CLIFF_CONV='%s': expected 'auto', 'direct', 'winograd2', 'winograd4' or 'timed'", v);
    return CLIFF_OK;
}

cliff_status nn_model_init(nn_model *m, const char *backbone, nn_dtype dt, const nn_array *arrs,
                           size_t narr, void (*release_fn)(void *, size_t), void *release_ctx) {
    return nn_model_init_algo(m, backbone, dt, arrs, narr, release_fn, release_ctx, -1);
}

cliff_status nn_model_init_algo(nn_model *m, const char *backbone, nn_dtype dt, const nn_array *arrs,
                                size_t narr, void (*release_fn)(void *, size_t), void *release_ctx, int algo) {
    nn_spec spec;
    cliff_status st = nn_spec_of(backbone, &spec);
    if (st) {
        memset(m, 0, sizeof *m);
        return st;
    }
    return nn_model_init_spec_algo(m, &spec, backbone, dt, arrs, narr, release_fn, release_ctx, algo);
}

cliff_status nn_model_init_spec(nn_model *m, const nn_spec *spec, const char *what, nn_dtype dt,
                                const nn_array *arrs, size_t narr, void (*release_fn)(void *, size_t),
                                void *release_ctx) {
    return nn_model_init_spec_algo(m, spec, what, dt, arrs, narr, release_fn, release_ctx, -1);
}

cliff_status nn_model_init_spec_algo(nn_model *m, const nn_spec *spec, const char *what, nn_dtype dt,
                                     const nn_array *arrs, size_t narr, void (*release_fn)(void *, size_t),
                                     void *release_ctx, int algo) {
    cliff_status st;
    memset(m, 0, sizeof *m);
    m->dt = dt;
    m->release = release_fn;
    m->release_ctx = release_ctx;
    m->arrs_base = arrs;
    if ((st = nn_build_spec(&m->g, spec))) goto fail;
    m->g.t[m->g.output].is_output = 1;
    /* the darknet reader (yolo.c) checks the weights file against the table itself */
    if (strcmp(spec->trunk, "yolov3") != 0 && (st = check_keys(&m->g, what, arrs, narr))) goto fail;
    m->packed = calloc(m->g.nl, sizeof(nn_packed *));
    m->wu = calloc(m->g.nl, sizeof(float *));
    m->wbias = calloc(m->g.nl, sizeof(float *));
    m->impl = calloc(m->g.nl, sizeof *m->impl);
    if (algo < 0) {
        if ((st = conv_algo_from_env(&m->algo))) goto fail;
    } else {
        m->algo = (nn_conv_algo)algo;
    }
    m->e = nn_engine_create();
    if (!m->packed || !m->wu || !m->wbias || !m->impl || !m->e) {
        st = cliff_fail(CLIFF_ENOMEM, "could not create the oneDNN engine");
        goto fail;
    }
    nn_plan *p;
    if ((st = plan_create(m, 1, arrs, narr, &p))) goto fail;
    m->plans[m->nplans++] = p;
    /* Decided at load (batch 1, this thread count), kept for every plan: only the winner's
     * weights stay (Winograd: U and the bias; direct: oneDNN's packed weights). */
    for (int i = 0; i < m->g.nl; i++) {
        if (!m->wu[i]) continue;
        if (p->wino[i]) {
            nn_packed_free(m->packed[i]);
            m->packed[i] = NULL;
        } else {
            cliff_free(m->wu[i]);
            free(m->wbias[i]);
            m->wu[i] = NULL;
            m->wbias[i] = NULL;
        }
    }
    for (int i = 0; i < m->g.nl; i++) {
        m->weight_bytes += nn_packed_bytes(m->packed[i]) + wino_weight_bytes(m, i);
        if (p->wino[i])
            snprintf(m->impl[i], sizeof m->impl[i], "cliff:winograd_f%dx%d:%s", nn_wino_tile(p->wino[i]),
                     nn_wino_tile(p->wino[i]), nn_wino_isa(p->wino[i]));
        else
            snprintf(m->impl[i], sizeof m->impl[i], "%s", p->prims[i] ? nn_prim_impl(p->prims[i]) : "cliff:c");
    }
    return CLIFF_OK;
fail:
    nn_model_free(m);
    return st;
}

void nn_model_free(nn_model *m) {
    for (int i = 0; i < m->nplans; i++) plan_free(m->plans[i]);
    if (m->packed)
        for (int i = 0; i < m->g.nl; i++) nn_packed_free(m->packed[i]);
    if (m->wu)
        for (int i = 0; i < m->g.nl; i++) cliff_free(m->wu[i]);
    if (m->wbias)
        for (int i = 0; i < m->g.nl; i++) free(m->wbias[i]);
    free(m->wbias);
    free(m->packed);
    free(m->wu);
    free(m->choice);
    free(m->impl);
    nn_engine_free(m->e);
    g_free(&m->g);
    memset(m, 0, sizeof *m);
}

cliff_status nn_model_plan(nn_model *m, int n, nn_plan **out) { return nn_model_plan_replica(m, n, 0, out); }

cliff_status nn_model_plan_replica(nn_model *m, int n, int replica, nn_plan **out) {
    int nthr = omp_get_max_threads();
    for (int i = 0; i < m->nplans; i++) {
        nn_plan *p = m->plans[i];
        if (p->n == n && p->nthr == nthr && p->replica == replica) {
            /* most recently used first */
            memmove(&m->plans[1], &m->plans[0], (size_t)i * sizeof(nn_plan *));
            m->plans[0] = p;
            *out = p;
            return CLIFF_OK;
        }
    }
    nn_plan *p;
    cliff_status st = plan_create_ex(m, n, NULL, 0, replica == NN_BRANCH_REPLICA, &p);
    if (st) return st;
    if (replica > 0) {
        p->replica = replica;
        if (!(p->e = nn_engine_fork(m->e))) {
            plan_free(p);
            return cliff_fail(CLIFF_ENOMEM, "could not create a oneDNN stream");
        }
    }
    if (m->nplans == NN_MAX_PLANS) plan_free(m->plans[--m->nplans]);
    memmove(&m->plans[1], &m->plans[0], (size_t)m->nplans * sizeof(nn_plan *));
    m->plans[0] = p;
    m->nplans++;
    *out = p;
    return CLIFF_OK;
}

cliff_status nn_model_plan_branches(nn_model *m, int n, nn_plan **out) {
    return nn_model_plan_replica(m, n, NN_BRANCH_REPLICA, out);
}

int nn_graph_has_branches(const nn_graph *g) {
    for (int i = 0; i < g->nl; i++)
        if (g->l[i].branch) return 1;
    return 0;
}

void *nn_plan_input(const nn_model *m, const nn_plan *p) { return (char *)p->arena + p->off[m->g.input]; }
void *nn_plan_tensor(const nn_model *m, const nn_plan *p, int t) {
    (void)m;
    return (char *)p->arena + p->off[t];
}
const float *nn_plan_output(const nn_model *m, const nn_plan *p) {
    return (const float *)((char *)p->arena + p->off[m->g.output]);
}

/* Global average over H x W of an NHWC tensor -> (n, c) float32; sums in float64. */
static void global_mean(const nn_model *m, const nn_plan *p, const nn_layer *L) {
    const nn_tensor *T = &m->g.t[L->src];
    size_t c = (size_t)T->c, hw = (size_t)T->h * T->w;
    const char *src = (const char *)p->arena + p->off[L->src];
    float *dst = (float *)((char *)p->arena + p->off[L->dst]);
    int bf = m->dt == NN_BF16;
    for (int b = 0; b < p->n; b++) {
        double acc[4096] = {0};
        for (size_t k = 0; k < hw; k++) {
            size_t base = ((size_t)b * hw + k) * c;
            if (bf) {
                const uint16_t *s = (const uint16_t *)src + base;
                for (size_t ch = 0; ch < c; ch++) {
                    uint32_t u = (uint32_t)s[ch] << 16;
                    float f;
                    memcpy(&f, &u, 4);
                    acc[ch] += f;
                }
            } else {
                const float *s = (const float *)src + base;
                for (size_t ch = 0; ch < c; ch++) acc[ch] += s[ch];
            }
        }
        for (size_t ch = 0; ch < c; ch++) dst[(size_t)b * c + ch] = (float)(acc[ch] / (double)hw);
    }
}

/* dst = [a | b] along channels, NHWC (one row copy pair per pixel). */
static void concat(const nn_model *m, const nn_plan *p, const nn_layer *L) {
    const nn_tensor *A = &m->g.t[L->src], *B = &m->g.t[L->add];
    size_t es = nn_dtype_size(m->dt), ca = (size_t)A->c * es, cb = (size_t)B->c * es;
    size_t npix = (size_t)p->n * A->h * A->w;
    const char *a = (const char *)p->arena + p->off[L->src], *b = (const char *)p->arena + p->off[L->add];
    char *d = (char *)p->arena + p->off[L->dst];
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < npix; k++) {
        memcpy(d + k * (ca + cb), a + k * ca, ca);
        memcpy(d + k * (ca + cb) + ca, b + k * cb, cb);
    }
}

#define PE(m, p) ((p)->e ? (p)->e : (m)->e) /* the stream a plan executes on */

static cliff_status run_layer_on(nn_model *m, nn_plan *p, int i, nn_engine *e);
static cliff_status run_layer(nn_model *m, nn_plan *p, int i) { return run_layer_on(m, p, i, PE(m, p)); }

static cliff_status run_layer_on(nn_model *m, nn_plan *p, int i, nn_engine *e) {
    if (p->wino[i]) {
        cliff_status st = nn_wait(e);
        if (!st) nn_wino_exec(p->wino[i]);
        return st;
    }
    if (m->g.l[i].op == OP_CONCAT) {
        cliff_status st = nn_wait(e);
        if (!st) concat(m, p, &m->g.l[i]);
        return st;
    }
    if (m->g.l[i].op == OP_AVGPOOL) {
        cliff_status st = nn_wait(e);
        if (!st) global_mean(m, p, &m->g.l[i]);
        return st;
    }
    return nn_prim_exec(e, p->prims[i], m->g.l[i].name);
}

/* One group of a branch segment: its layers in order, on its threads and stream. */
typedef struct {
    nn_model *m;
    nn_plan *p;
    int s, e, k;
    cliff_status st;
    char msg[256]; /* the error message (cliff_last_error is per thread) */
} seg_job;

static void *seg_main(void *arg) {
    seg_job *j = arg;
    nn_plan *p = j->p;
    nn_engine *e = j->k ? p->ge[j->k] : PE(j->m, p);
    for (int i = j->s; i < j->e; i++)
        if (p->grp[i] == j->k) {
            omp_set_num_threads(p->gnt[i]); /* this thread's teams: oneDNN's and the Winograd layers' */
            break;
        }
    j->st = CLIFF_OK;
    for (int i = j->s; i < j->e && !j->st; i++)
        if (p->grp[i] == j->k) j->st = run_layer_on(j->m, p, i, e);
    if (!j->st) j->st = nn_wait(e);
    if (j->st) snprintf(j->msg, sizeof j->msg, "%s", cliff_last_error());
    return NULL;
}

/* Segment [s, e) of a branch plan: the layers of no group on all threads, then the groups at
 * once, groups 1.. on threads started here (initial threads to OpenMP, each with a team of its
 * own, as in net.c's run_split), group 0 on the calling thread. */
static cliff_status run_segment(nn_model *m, nn_plan *p, int s, int e) {
    cliff_status st = CLIFF_OK;
    int G = 0;
    for (int i = s; i < e && !st; i++) {
        if (p->grp[i] < 0) st = run_layer(m, p, i);
        else if (p->grp[i] + 1 > G) G = p->grp[i] + 1;
    }
    if (!st) st = nn_wait(PE(m, p));
    if (st || !G) return st;
    seg_job job[NN_MAX_BRANCH_GROUPS];
    for (int k = 0; k < G; k++) job[k] = (seg_job){m, p, s, e, k, CLIFF_OK, ""};
    nn_run_groups(G, seg_main, job, sizeof job[0]);
    omp_set_num_threads(p->nthr);
    for (int k = 0; k < G; k++)
        if (job[k].st) return cliff_fail(job[k].st, "%s", job[k].msg);
    return CLIFF_OK;
}

void nn_run_groups(int G, void *(*fn)(void *), void *jobs, size_t stride) {
    pthread_t th[NN_MAX_GROUPS];
    int started[NN_MAX_GROUPS] = {0};
    char *job = jobs;
    if (G > NN_MAX_GROUPS) G = NN_MAX_GROUPS;
    for (int g = 1; g < G; g++) started[g] = pthread_create(&th[g], NULL, fn, job + (size_t)g * stride) == 0;
    fn(job);
    for (int g = 1; g < G; g++) {
        if (started[g])
            pthread_join(th[g], NULL);
        else
            fn(job + (size_t)g * stride); /* no thread to be had: the job runs here, after the others */
    }
}

cliff_status nn_plan_run(nn_model *m, nn_plan *p) {
    cliff_status st;
    for (int i = 0; i < m->g.nl; i++) {
        if (p->grp && p->grp[i] >= 0) { /* the grouped branches of a segment: up to its end */
            int e = i;
            while (e < m->g.nl && m->g.l[e].branch) e++;
            if ((st = run_segment(m, p, i, e))) return st;
            i = e - 1;
            continue;
        }
        if ((st = run_layer(m, p, i))) return st;
    }
    return nn_wait(PE(m, p));
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

cliff_status nn_plan_profile(nn_model *m, nn_plan *p, double *ms) {
    cliff_status st;
    for (int i = 0; i < m->g.nl; i++) {
        double t0 = now();
        if ((st = run_layer(m, p, i))) return st;
        if ((st = nn_wait(PE(m, p)))) return st;
        ms[i] = 1e3 * (now() - t0);
    }
    return CLIFF_OK;
}
