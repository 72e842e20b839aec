/* fma_peak.c - the FMA throughput of this CPU, for bench_roofline.py.
 *
 *   fma_peak THREADS   prints "avx512 G" and/or "avx2 G": GFLOP/s of all THREADS threads
 *                      together (best of 5), each running 12 independent FMA chains
 *
 * 12 chains cover the FMA latency of current cores (4-5 cycles) over 2 pipes. Each ISA is
 * compiled with a target attribute and used only where cpuid reports it. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define CHAINS(V, a, b, c)                                                                         \
    do {                                                                                           \
        a##0 = a##0 * b + c; a##1 = a##1 * b + c; a##2 = a##2 * b + c; a##3 = a##3 * b + c;        \
        a##4 = a##4 * b + c; a##5 = a##5 * b + c; a##6 = a##6 * b + c; a##7 = a##7 * b + c;        \
        a##8 = a##8 * b + c; a##9 = a##9 * b + c; a##10 = a##10 * b + c; a##11 = a##11 * b + c;    \
    } while (0)

#define KERNEL(NAME, V, ATTR)                                                                      \
    __attribute__((target(ATTR), noinline)) static float NAME(long n) {                            \
        V b = {0}, c = {0};                                                                        \
        b += 1.0000001f;                                                                           \
        c += 1e-7f;                                                                                \
        V a0 = b, a1 = b + 1, a2 = b + 2, a3 = b + 3, a4 = b + 4, a5 = b + 5, a6 = b + 6,          \
          a7 = b + 7, a8 = b + 8, a9 = b + 9, a10 = b + 10, a11 = b + 11;                          \
        for (long k = 0; k < n; k++) CHAINS(V, a, b, c);                                           \
        V s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                        \
        return s[0];                                                                               \
    }
KERNEL(run512, v16, "avx512f,fma")
KERNEL(run256, v8, "avx2,fma")

static double measure(int threads, int wide) {
    const long n = 20000000;
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            float s = wide ? run512(n) : run256(n);
#pragma omp atomic
            sink += s;
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    return (double)threads * n * 12 * (wide ? 32 : 16) / best * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1) threads = 1;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) printf("avx512 %.1f\n", measure(threads, 1));
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) printf("avx2 %.1f\n", measure(threads, 0));
    return 0;
}
