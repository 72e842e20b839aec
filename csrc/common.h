/* common.h - internal helpers shared by the core: errors, aligned memory, threads. */
#ifndef CLIFF_COMMON_H
#define CLIFF_COMMON_H

#include "cliff.h"

/* Record a formatted failure message for the calling thread and return `st`. */
cliff_status cliff_fail(cliff_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 64-byte aligned allocation; the memory is not initialized. cliff_free(NULL) is a no-op. */
void *cliff_alloc(size_t bytes);
void cliff_free(void *p);

/* Number of threads the core should use now (>= 1). Call omp_set_num_threads with it at the
 * start of every entry point that runs OpenMP or oneDNN work. */
int cliff_threads(void);

/* crop.c: EINVAL (message "<what>[i]: ...") unless the official crop window of (cx, cy, scale)
 * is valid for cliff_crop_center_scale (finite, scale > 0, not empty, at most 2^24 a side). */
cliff_status cliff_crop_check_box(double cx, double cy, double scale, const char *what, size_t i);
/* The same for the window of crop params p (e.g. BEDLAM's square one). */
cliff_status cliff_crop_check_window(double cx, double cy, double scale, const cliff_crop_params *p,
                                     const char *what, size_t i);

#endif
