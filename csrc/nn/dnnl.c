/* dnnl.c - the only file that calls oneDNN: convolution, pooling and nearest resampling
 * primitives with post-ops, weight packing (one reorder at load), execution.
 *
 * Every primitive is created for NHWC activations (explicit acdb), weights in the layout the
 * implementation picks (format_tag_any), user-mode scratchpad, forward_inference. A primitive
 * is bound once to its memories (pointers into the caller's arena), so executing it costs
 * nothing but the kernel. */
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

struct nn_engine {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int borrowed; /* a stream of another nn_engine's engine (nn_engine_fork): eng not owned */
};

#define MAX_ARGS 8
struct nn_prim {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t mem[MAX_ARGS];
    dnnl_exec_arg_t args[MAX_ARGS];
    int nargs;
    size_t scratch;
};

#define MAX_VARIANTS 4
struct nn_packed {
    int nvar;
    dnnl_memory_desc_t md[MAX_VARIANTS];
    void *buf[MAX_VARIANTS];
    size_t bytes[MAX_VARIANTS];
    float *bias;
    int oc;
};

#define CHECK(call, what)                                                                  \
    do {                                                                                   \
        dnnl_status_t s_ = (call);                                                         \
        if (s_ != dnnl_success) {                                                          \
            st = cliff_fail(CLIFF_EDNNL, "oneDNN %s failed for layer '%s': %s", what, name,  \
                            dnnl_status2str(s_));                                          \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

static dnnl_data_type_t dt_of(nn_dtype d) { return d == NN_BF16 ? dnnl_bf16 : dnnl_f32; }

size_t nn_dtype_size(nn_dtype dt) { return dt == NN_BF16 ? 2 : 4; }

int nn_bf16_supported(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* avx512_core and up: native BF16 instructions or oneDNN's JIT emulation */
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

nn_engine *nn_engine_create(void) {
    nn_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (dnnl_engine_create(&e->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags) != dnnl_success) {
        nn_engine_free(e);
        return NULL;
    }
    return e;
}

nn_engine *nn_engine_fork(nn_engine *parent) {
    nn_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->eng = parent->eng;
    e->borrowed = 1;
    if (dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags) != dnnl_success) {
        nn_engine_free(e);
        return NULL;
    }
    return e;
}

void nn_engine_free(nn_engine *e) {
    if (!e) return;
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->eng && !e->borrowed) dnnl_engine_destroy(e->eng);
    free(e);
}

static dnnl_status_t act_md(dnnl_memory_desc_t *md, nn_shape s) {
    dnnl_dims_t d = {s.n, s.c, s.h, s.w};
    return dnnl_memory_desc_create_with_tag(md, 4, d, dt_of(s.dt), dnnl_nhwc);
}

static nn_prim *prim_new(void) { return calloc(1, sizeof(nn_prim)); }

static dnnl_status_t bind(nn_prim *p, nn_engine *e, int arg, const_dnnl_memory_desc_t md, void *ptr) {
    dnnl_memory_t m;
    dnnl_status_t s = dnnl_memory_create(&m, md, e->eng, ptr);
    if (s != dnnl_success) return s;
    p->mem[p->nargs] = m;
    p->args[p->nargs].arg = arg;
    p->args[p->nargs].memory = m;
    p->nargs++;
    return dnnl_success;
}

/* attr with user scratchpad and the post-ops; *add_md is created for PO_ADD. */
static dnnl_status_t make_attr(dnnl_primitive_attr_t *attr, const nn_postops *po,
                               nn_shape add_shape, dnnl_memory_desc_t *add_md, int *add_idx) {
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s != dnnl_success) return s;
    *add_idx = -1;
    if (!po || po->n == 0) return dnnl_success;
    dnnl_post_ops_t ops;
    s = dnnl_post_ops_create(&ops);
    if (s != dnnl_success) return s;
    for (int i = 0; i < po->n && s == dnnl_success; i++) {
        switch (po->kind[i]) {
        case PO_RELU: s = dnnl_post_ops_append_eltwise(ops, dnnl_eltwise_relu, 0.f, 0.f); break;
        case PO_LEAKY: s = dnnl_post_ops_append_eltwise(ops, dnnl_eltwise_relu, 0.1f, 0.f); break;
        case PO_SUM: s = dnnl_post_ops_append_sum(ops, 1.f, 0, dnnl_data_type_undef); break;
        case PO_ADD:
            s = act_md(add_md, add_shape);
            if (s == dnnl_success) s = dnnl_post_ops_append_binary(ops, dnnl_binary_add, *add_md);
            *add_idx = i;
            break;
        }
    }
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, ops);
    dnnl_post_ops_destroy(ops);
    return s;
}

/* Create the primitive from p->pd, query the scratchpad size. */
static dnnl_status_t finish(nn_prim *p) {
    dnnl_status_t s = dnnl_primitive_create(&p->prim, p->pd);
    if (s != dnnl_success) return s;
    const_dnnl_memory_desc_t smd = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    p->scratch = smd ? dnnl_memory_desc_get_size(smd) : 0;
    return dnnl_success;
}

void nn_packed_free(nn_packed *p) {
    if (!p) return;
    for (int i = 0; i < p->nvar; i++) {
        dnnl_memory_desc_destroy(p->md[i]);
        cliff_free(p->buf[i]);
    }
    cliff_free(p->bias);
    free(p);
}

size_t nn_packed_bytes(const nn_packed *p) {
    size_t b = p ? (size_t)p->oc * 4 : 0;
    for (int i = 0; p && i < p->nvar; i++) b += p->bytes[i];
    return b;
}

/* Reorder src (memory) into a new variant of layout `md`; returns its index or -1. */
static dnnl_status_t pack_variant(nn_engine *e, nn_packed *pk, dnnl_memory_t src,
                                  const_dnnl_memory_desc_t md, int *idx) {
    dnnl_status_t s;
    if (pk->nvar == MAX_VARIANTS) return dnnl_unimplemented;
    size_t bytes = dnnl_memory_desc_get_size(md);
    void *buf = cliff_alloc(bytes);
    if (!buf) return dnnl_out_of_memory;
    dnnl_memory_t dst = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    const_dnnl_memory_desc_t smd;
    s = dnnl_memory_get_memory_desc(src, &smd);
    if (s == dnnl_success) s = dnnl_memory_create(&dst, md, e->eng, buf);
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&rpd, smd, e->eng, md, e->eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&r, rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        s = dnnl_primitive_execute(r, e->stream, 2, a);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(e->stream);
    if (s == dnnl_success) s = dnnl_memory_desc_clone(&pk->md[pk->nvar], md);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (dst) dnnl_memory_destroy(dst);
    if (s != dnnl_success) {
        cliff_free(buf);
        return s;
    }
    pk->buf[pk->nvar] = buf;
    pk->bytes[pk->nvar] = bytes;
    *idx = pk->nvar++;
    return dnnl_success;
}

cliff_status nn_conv(nn_engine *e, const char *name, nn_shape src, nn_shape dst, int k, int stride,
                     int pad, const nn_postops *po, nn_shape add_shape, nn_packed **packed,
                     const float *w, const float *b, void *src_p, void *dst_p, void *add_p,
                     nn_prim **out) {
    cliff_status st = CLIFF_OK;
    dnnl_memory_desc_t smd = NULL, dmd = NULL, wmd = NULL, bmd = NULL, amd = NULL, umd = NULL;
    dnnl_memory_t umem = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int add_idx = -1;
    nn_packed *pk = *packed;
    nn_prim *p = prim_new();
    if (!p) return cliff_fail(CLIFF_ENOMEM, "out of memory creating layer '%s'", name);

    dnnl_dims_t wd = {dst.c, src.c, k, k}, bd = {dst.c};
    dnnl_dims_t strides = {stride, stride}, dil = {0, 0}, pads = {pad, pad};
    nn_dtype wdt = src.dt;
    CHECK(act_md(&smd, src), "source descriptor");
    CHECK(act_md(&dmd, dst), "destination descriptor");
    CHECK(dnnl_memory_desc_create_with_tag(&wmd, 4, wd, dt_of(wdt), dnnl_format_tag_any), "weights descriptor");
    CHECK(dnnl_memory_desc_create_with_tag(&bmd, 1, bd, dnnl_f32, dnnl_a), "bias descriptor");
    CHECK(make_attr(&attr, po, add_shape, &amd, &add_idx), "post-op setup");
    CHECK(dnnl_convolution_forward_primitive_desc_create(&p->pd, e->eng, dnnl_forward_inference,
                                                         dnnl_convolution_direct, smd, wmd, bmd, dmd,
                                                         strides, dil, pads, pads, attr),
          "convolution descriptor");
    CHECK(finish(p), "convolution creation");

    const_dnnl_memory_desc_t want = dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0);
    int var = -1;
    if (!pk) {
        pk = calloc(1, sizeof *pk);
        if (!pk) {
            st = cliff_fail(CLIFF_ENOMEM, "out of memory packing '%s'", name);
            goto done;
        }
        *packed = pk;
        pk->oc = dst.c;
        pk->bias = cliff_alloc((size_t)dst.c * sizeof(float));
        if (!pk->bias) {
            st = cliff_fail(CLIFF_ENOMEM, "out of memory packing '%s'", name);
            goto done;
        }
        memcpy(pk->bias, b, (size_t)dst.c * sizeof(float));
        CHECK(dnnl_memory_desc_create_with_tag(&umd, 4, wd, dnnl_f32, dnnl_oihw), "weights descriptor");
        CHECK(dnnl_memory_create(&umem, umd, e->eng, (void *)w), "weights memory");
        CHECK(pack_variant(e, pk, umem, want, &var), "weights reorder");
    } else {
        for (int i = 0; i < pk->nvar; i++)
            if (dnnl_memory_desc_equal(pk->md[i], want)) var = i;
        if (var < 0) {
            CHECK(dnnl_memory_create(&umem, pk->md[0], e->eng, pk->buf[0]), "weights memory");
            CHECK(pack_variant(e, pk, umem, want, &var), "weights reorder");
        }
    }
    CHECK(bind(p, e, DNNL_ARG_SRC, smd, src_p), "source memory");
    CHECK(bind(p, e, DNNL_ARG_WEIGHTS, pk->md[var], pk->buf[var]), "weights memory");
    CHECK(bind(p, e, DNNL_ARG_BIAS, bmd, pk->bias), "bias memory");
    CHECK(bind(p, e, DNNL_ARG_DST, dmd, dst_p), "destination memory");
    if (add_idx >= 0)
        CHECK(bind(p, e, DNNL_ARG_ATTR_MULTIPLE_POST_OP(add_idx) | DNNL_ARG_SRC_1, amd, add_p), "add memory");
done:
    if (umem) dnnl_memory_destroy(umem);
    if (umd) dnnl_memory_desc_destroy(umd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (smd) dnnl_memory_desc_destroy(smd);
    if (dmd) dnnl_memory_desc_destroy(dmd);
    if (wmd) dnnl_memory_desc_destroy(wmd);
    if (bmd) dnnl_memory_desc_destroy(bmd);
    if (amd) dnnl_memory_desc_destroy(amd);
    if (st != CLIFF_OK) {
        nn_prim_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

cliff_status nn_pool(nn_engine *e, const char *name, int is_max, nn_shape src, nn_shape dst,
                     int k, int stride, int pad, void *src_p, void *dst_p, nn_prim **out) {
    cliff_status st = CLIFF_OK;
    dnnl_memory_desc_t smd = NULL, dmd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int add_idx;
    nn_prim *p = prim_new();
    if (!p) return cliff_fail(CLIFF_ENOMEM, "out of memory creating layer '%s'", name);
    dnnl_dims_t kern = {k, k}, strides = {stride, stride}, pads = {pad, pad}, dil = {0, 0};
    if (k == 0) { /* global average */
        kern[0] = src.h, kern[1] = src.w;
        strides[0] = strides[1] = 1;
        pads[0] = pads[1] = 0;
    }
    CHECK(act_md(&smd, src), "source descriptor");
    CHECK(act_md(&dmd, dst), "destination descriptor");
    CHECK(make_attr(&attr, NULL, src, NULL, &add_idx), "attribute setup");
    CHECK(dnnl_pooling_forward_primitive_desc_create(
              &p->pd, e->eng, dnnl_forward_inference,
              is_max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, smd, dmd, strides,
              kern, dil, pads, pads, attr),
          "pooling descriptor");
    CHECK(finish(p), "pooling creation");
    CHECK(bind(p, e, DNNL_ARG_SRC, smd, src_p), "source memory");
    CHECK(bind(p, e, DNNL_ARG_DST, dmd, dst_p), "destination memory");
done:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (smd) dnnl_memory_desc_destroy(smd);
    if (dmd) dnnl_memory_desc_destroy(dmd);
    if (st != CLIFF_OK) {
        nn_prim_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

cliff_status nn_upsample(nn_engine *e, const char *name, nn_shape src, nn_shape dst,
                         const nn_postops *po, nn_shape add_shape, void *src_p, void *dst_p,
                         void *add_p, nn_prim **out) {
    cliff_status st = CLIFF_OK;
    dnnl_memory_desc_t smd = NULL, dmd = NULL, amd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int add_idx = -1;
    nn_prim *p = prim_new();
    if (!p) return cliff_fail(CLIFF_ENOMEM, "out of memory creating layer '%s'", name);
    CHECK(act_md(&smd, src), "source descriptor");
    CHECK(act_md(&dmd, dst), "destination descriptor");
    CHECK(make_attr(&attr, po, add_shape, &amd, &add_idx), "post-op setup");
    CHECK(dnnl_resampling_forward_primitive_desc_create(&p->pd, e->eng, dnnl_forward_inference,
                                                        dnnl_resampling_nearest, NULL, smd, dmd, attr),
          "resampling descriptor");
    CHECK(finish(p), "resampling creation");
    CHECK(bind(p, e, DNNL_ARG_SRC, smd, src_p), "source memory");
    CHECK(bind(p, e, DNNL_ARG_DST, dmd, dst_p), "destination memory");
    if (add_idx >= 0)
        CHECK(bind(p, e, DNNL_ARG_ATTR_MULTIPLE_POST_OP(add_idx) | DNNL_ARG_SRC_1, amd, add_p), "add memory");
done:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (smd) dnnl_memory_desc_destroy(smd);
    if (dmd) dnnl_memory_desc_destroy(dmd);
    if (amd) dnnl_memory_desc_destroy(amd);
    if (st != CLIFF_OK) {
        nn_prim_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

size_t nn_prim_scratchpad(const nn_prim *p) { return p->scratch; }

cliff_status nn_prim_set_scratchpad(nn_engine *e, nn_prim *p, void *scratch) {
    if (p->scratch == 0) return CLIFF_OK;
    const char *name = "scratchpad";
    cliff_status st = CLIFF_OK;
    const_dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    if (p->nargs >= MAX_ARGS) return cliff_fail(CLIFF_EDNNL, "too many arguments");
    CHECK(bind(p, e, DNNL_ARG_SCRATCHPAD, md, scratch), "scratchpad memory");
done:
    return st;
}

cliff_status nn_prim_exec(nn_engine *e, nn_prim *p, const char *name) {
    cliff_status st = CLIFF_OK;
    CHECK(dnnl_primitive_execute(p->prim, e->stream, p->nargs, p->args), "execution");
done:
    return st;
}

cliff_status nn_wait(nn_engine *e) {
    const char *name = "stream";
    cliff_status st = CLIFF_OK;
    CHECK(dnnl_stream_wait(e->stream), "wait");
done:
    return st;
}

const char *nn_prim_impl(const nn_prim *p) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success) return "?";
    return s ? s : "?";
}

void nn_prim_free(nn_prim *p) {
    if (!p) return;
    for (int i = 0; i < p->nargs; i++) dnnl_memory_destroy(p->mem[i]);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    free(p);
}

/* ---- for the Winograd layers (winograd.c) ----------------------------------------------- */

const float *nn_packed_bias(const nn_packed *p) { return p ? p->bias : NULL; }
