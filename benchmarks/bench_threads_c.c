/* Thread scaling of cliff_net_run, from C (no Python, no GIL, no NumPy in the timed loop).
 *
 * Built and driven by benchmarks/bench_threads_scaling.py, which writes the weights file. Usage:
 *   bench_threads WEIGHTS BACKBONE PRECISION BATCH REPS THREADS...
 * WEIGHTS: records of  u32 name_len, name bytes, u32 ndim, ndim x i64 shape, float32 data.
 * For each thread count (in the order given): cliff_set_num_threads, one warm-up call (builds
 * the plan for this batch and thread count), then REPS timed calls of cliff_net_run on uint8
 * NHWC crops with the regressor (3 iterations); prints one line per count:
 *   RESULT threads T median_ms M min_ms m
 * and, with PROFILE set in the environment, the per-layer times (cliff_net_profile) after it:
 *   LAYER threads T index i kind impl ms name */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cliff.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int die(const char *what) {
    fprintf(stderr, "bench_threads: %s: %s\n", what, cliff_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s WEIGHTS BACKBONE fp32|bf16 BATCH REPS THREADS...\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1024, n = 0;
    cliff_array *arr = calloc(cap, sizeof *arr);
    uint32_t len;
    while (arr && fread(&len, 4, 1, f) == 1) {
        if (n == cap) {
            cliff_array *more = realloc(arr, 2 * cap * sizeof *arr);
            if (!more) {
                fprintf(stderr, "bench_threads: out of memory\n");
                return 1;
            }
            arr = more;
            cap *= 2;
        }
        char *name = calloc(len + 1, 1);
        uint32_t ndim;
        if (!name || fread(name, 1, len, f) != len || fread(&ndim, 4, 1, f) != 1 || ndim > 4) {
            fprintf(stderr, "bench_threads: bad weights file\n");
            return 1;
        }
        arr[n].name = name;
        arr[n].ndim = ndim;
        size_t count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (fread(&arr[n].shape[d], 8, 1, f) != 1) return 1;
            count *= (size_t)arr[n].shape[d];
        }
        float *data = malloc(count * sizeof(float) + 1);
        if (!data || fread(data, sizeof(float), count, f) != count) {
            fprintf(stderr, "bench_threads: bad weights file\n");
            return 1;
        }
        arr[n++].data = data;
    }
    fclose(f);
    const char *backbone = argv[2];
    cliff_precision prec = strcmp(argv[3], "bf16") == 0 ? CLIFF_PRECISION_BF16 : CLIFF_PRECISION_FP32;
    size_t batch = (size_t)atoi(argv[4]), reps = (size_t)atoi(argv[5]);
    if (batch < 1 || reps < 1) return 2;

    cliff_net *net;
    double t0 = now_ms();
    if (cliff_net_create(backbone, prec, arr, n, NULL, NULL, &net)) return die("cliff_net_create");
    printf("created %s %s in %.2f s, %zu layers, oneDNN ISA %s\n", backbone, argv[3],
           (now_ms() - t0) / 1e3, cliff_net_num_layers(net), cliff_dnnl_isa());
    for (size_t i = 0; i < n; i++) free((void *)arr[i].data), free((void *)arr[i].name);
    free(arr);

    size_t px = 3 * (size_t)CLIFF_CROP_HEIGHT * CLIFF_CROP_WIDTH;
    uint8_t *crops = malloc(batch * px);
    float *info = malloc(batch * 3 * sizeof(float)), *pose = malloc(batch * 144 * sizeof(float));
    float *betas = malloc(batch * 10 * sizeof(float)), *cam = malloc(batch * 3 * sizeof(float));
    double *ts = malloc(reps * sizeof(double));
    size_t nl = cliff_net_num_layers(net);
    double *layer_ms = malloc(nl * sizeof(double));
    if (!crops || !info || !pose || !betas || !cam || !ts || !layer_ms) return 1;
    uint32_t s = 12345;
    for (size_t i = 0; i < batch * px; i++) crops[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
    for (size_t i = 0; i < batch; i++) info[3 * i] = 0.1f, info[3 * i + 1] = -0.2f, info[3 * i + 2] = 0.5f;

    for (int a = 6; a < argc; a++) {
        int thr = atoi(argv[a]);
        cliff_set_num_threads(thr);
        if (cliff_net_run(net, crops, CLIFF_LAYOUT_NHWC_U8, batch, info, 3, NULL, pose, betas, cam))
            return die("cliff_net_run");
        for (size_t r = 0; r < reps; r++) {
            double t = now_ms();
            if (cliff_net_run(net, crops, CLIFF_LAYOUT_NHWC_U8, batch, info, 3, NULL, pose, betas, cam))
                return die("cliff_net_run");
            ts[r] = now_ms() - t;
        }
        qsort(ts, reps, sizeof *ts, cmp);
        double med = reps % 2 ? ts[reps / 2] : 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
        printf("RESULT threads %d median_ms %.3f min_ms %.3f\n", cliff_get_num_threads(), med, ts[0]);
        fflush(stdout);
        if (getenv("PROFILE") && batch <= 8) {
            if (cliff_net_profile(net, batch, 3, layer_ms)) return die("cliff_net_profile");
            for (size_t i = 0; i < nl; i++) {
                const char *name, *kind, *impl;
                cliff_net_layer(net, i, &name, &kind, &impl);
                printf("LAYER threads %d index %zu %s %s %.4f %s\n", thr, i, kind, impl, layer_ms[i], name);
            }
        }
    }
    cliff_net_free(net);
    free(crops), free(info), free(pose), free(betas), free(cam), free(ts), free(layer_ms);
    return 0;
}
