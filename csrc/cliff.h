/* cliff.h - public C API of the cliff core (CLIFF human mesh recovery on the CPU).
 *
 * Conventions
 *  - Every function that can fail returns a cliff_status; on failure a message describing
 *    what and where is available from cliff_last_error() (per calling thread).
 *  - Arrays are contiguous, row-major, with the shapes given in each comment.
 *  - Units: pixels for image quantities, metres for 3D, OpenCV camera frame
 *    (x right, y down, z forward). SMPL joint order as in the official release.
 *  - Handles are opaque; each has a create or load function and a free function. A handle may be used from
 *    several threads at once: it serializes its own execution.
 *  - No function keeps a pointer to caller memory after it returns.
 */
#ifndef CLIFF_H
#define CLIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CLIFF_API __attribute__((visibility("default")))
#else
#define CLIFF_API
#endif

typedef enum {
    CLIFF_OK = 0,
    CLIFF_EINVAL = 1,  /* bad argument: shape, value, range */
    CLIFF_ENOMEM = 2,  /* allocation failed */
    CLIFF_EIO = 3,     /* file could not be read or has the wrong content */
    CLIFF_EDNNL = 4,   /* oneDNN refused or failed */
    CLIFF_ESTATE = 5,  /* handle used in a state that does not allow it (e.g. closed) */
} cliff_status;

/* ---- common ------------------------------------------------------------------------ */

/* Message of the last failure in the calling thread ("" if none). */
CLIFF_API const char *cliff_last_error(void);

/* Threads used by the core's OpenMP regions and oneDNN primitives (process-wide).
 * n <= 0 restores the default (all cores). */
CLIFF_API void cliff_set_num_threads(int n);
CLIFF_API int cliff_get_num_threads(void);

/* oneDNN runtime version (major, minor, patch) and the ISA it dispatches to (a string). */
CLIFF_API void cliff_dnnl_version(int *major, int *minor, int *patch);
CLIFF_API const char *cliff_dnnl_isa(void);

/* ---- geometry (geometry.c) ----------------------------------------------------------- */

/* ---- SMPL body model (smpl.c) -------------------------------------------------------- */

/* ---- networks (nn/) ------------------------------------------------------------------ */

/* ---- preprocessing (crop.c) ---------------------------------------------------------- */

/* ---- rendering (render.c) ------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif
#endif /* CLIFF_H */
