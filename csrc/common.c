/* common.c - errors, aligned allocation, thread count, oneDNN version info. */
#include "common.h"

#include <omp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>

static _Thread_local char last_error[1024];
static atomic_int num_threads; /* 0 = default */

cliff_status cliff_fail(cliff_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

const char *cliff_last_error(void) { return last_error; }

void *cliff_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void cliff_free(void *p) { free(p); }

void cliff_set_num_threads(int n) { atomic_store(&num_threads, n > 0 ? n : 0); }

int cliff_get_num_threads(void) { return cliff_threads(); }

int cliff_threads(void) {
    int n = atomic_load(&num_threads);
    if (n <= 0) n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

void cliff_dnnl_version(int *major, int *minor, int *patch) {
    const dnnl_version_t *v = dnnl_version();
    *major = v->major;
    *minor = v->minor;
    *patch = v->patch;
}

const char *cliff_dnnl_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2_vnni_2: return "avx2_vnni_2";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_fp16: return "avx512_core_fp16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_amx_fp16: return "avx512_core_amx_fp16";
    default: return "unknown";
    }
}

const float cliff_imagenet_mean[3] = {(float)0.485, (float)0.456, (float)0.406};
const float cliff_imagenet_std[3] = {(float)0.229, (float)0.224, (float)0.225};

int cliff_api_version(void) { return CLIFF_API_VERSION; }
