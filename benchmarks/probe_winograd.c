/* Does the engine's oneDNN offer Winograd for HRNet's stride-1 3x3 convolutions? For each of
 * HRNet-W48's four basic-block shapes (channels x H x W), batch 1 and 8, f32, it asks oneDNN for
 * a forward-inference convolution with dnnl_convolution_winograd (NHWC and "any" activations)
 * and with dnnl_convolution_auto, and prints the status and the implementation oneDNN picked.
 * Built and run by benchmarks/probe_winograd.py. */
#include <stdio.h>

#include "oneapi/dnnl/dnnl.h"

static void probe(dnnl_engine_t eng, int mb, int c, int h, int w, dnnl_alg_kind_t alg,
                  const char *alg_name, dnnl_format_tag_t act, const char *act_name) {
    dnnl_memory_desc_t s, d, wt, b;
    dnnl_dims_t sd = {mb, c, h, w}, wd = {c, c, 3, 3}, bd = {c};
    dnnl_memory_desc_create_with_tag(&s, 4, sd, dnnl_f32, act);
    dnnl_memory_desc_create_with_tag(&d, 4, sd, dnnl_f32, act);
    dnnl_memory_desc_create_with_tag(&wt, 4, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_create_with_tag(&b, 1, bd, dnnl_f32, dnnl_a);
    dnnl_dims_t st = {1, 1}, dil = {0, 0}, pad = {1, 1};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t r = dnnl_convolution_forward_primitive_desc_create(
        &pd, eng, dnnl_forward_inference, alg, s, wt, b, d, st, dil, pad, pad, NULL);
    const char *impl = "-";
    if (r == dnnl_success) dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    printf("| %d | %dx%dx%d | %s | %s | %s | %s |\n", mb, c, h, w, alg_name, act_name,
           r == dnnl_success ? "ok" : r == dnnl_unimplemented ? "unimplemented" : "error", impl);
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_memory_desc_destroy(s), dnnl_memory_desc_destroy(d);
    dnnl_memory_desc_destroy(wt), dnnl_memory_desc_destroy(b);
}

int main(void) {
    dnnl_engine_t eng;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return 1;
    const dnnl_version_t *v = dnnl_version();
    printf("oneDNN %d.%d.%d, CPU ISA %d (dnnl_cpu_isa_t)\n", v->major, v->minor, v->patch,
           (int)dnnl_get_effective_cpu_isa());
    printf("| batch | C x H x W | algorithm | activations | status | implementation |\n");
    printf("|---|---|---|---|---|---|\n");
    static const int shapes[][3] = {{48, 64, 48}, {96, 32, 24}, {192, 16, 12}, {384, 8, 6}};
    for (int i = 0; i < 4; i++)
        for (int mb = 1; mb <= 8; mb += 7) {
            const int *sh = shapes[i];
            probe(eng, mb, sh[0], sh[1], sh[2], dnnl_convolution_winograd, "winograd", dnnl_nhwc, "nhwc");
            probe(eng, mb, sh[0], sh[1], sh[2], dnnl_convolution_winograd, "winograd", dnnl_format_tag_any, "any");
            probe(eng, mb, sh[0], sh[1], sh[2], dnnl_convolution_auto, "auto", dnnl_nhwc, "nhwc");
        }
    dnnl_engine_destroy(eng);
    return 0;
}
