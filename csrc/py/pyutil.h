/* pyutil.h - shared helpers of the CPython bindings: module state, array conversion with
 * argument-naming errors, status -> exception. Each csrc/py/<area>.c file registers its
 * functions and types through a cliff_py_<area>_init(module) hook called from module.c. */
#ifndef CLIFF_PYUTIL_H
#define CLIFF_PYUTIL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NO_IMPORT_ARRAY
#define PY_ARRAY_UNIQUE_SYMBOL cliff_ARRAY_API
#include <numpy/arrayobject.h>

#include "cliff.h"

/* Per-module state (no global mutable state in the binding): the heap types, found from a
 * type with PyType_GetModuleState (e.g. Estimator checks its arguments' types against them). */
typedef struct {
    PyTypeObject *smpl_type;
    PyTypeObject *model_type;
    PyTypeObject *estimator_type;
} cliff_state;

cliff_state *cliff_py_state(PyObject *module);

/* Raise the Python exception matching `st` with cliff_last_error() as message; returns NULL. */
PyObject *cliff_py_raise(cliff_status st);

/* Float type to compute in for `obj`: NPY_FLOAT64 when it holds float64 (or Python floats/
 * ints, or integer arrays), NPY_FLOAT32 for float32/float16. -1 with TypeError (naming
 * `name`) when it is not a real numeric array-like. */
int cliff_py_float_type(PyObject *obj, const char *name);

/* Convert any array-like (non-contiguous, read-only, byte-swapped, objects with __array__)
 * to an aligned, C-contiguous, native-endian array of `typenum`. TypeError naming `name` when
 * the data is not real numbers. New reference or NULL. */
PyArrayObject *cliff_py_array(PyObject *obj, const char *name, int typenum);

/* Same, then check the shape: `ndim` trailing dims must equal `dims` (-1 = any), and with
 * `leading` != 0 any number of leading dims are allowed (else ndim must match exactly).
 * `expect` is the human-readable expected shape for the message, e.g. "(..., 3, 3)". */
PyArrayObject *cliff_py_array_shape(PyObject *obj, const char *name, int typenum, int leading,
                                    int ndim, const npy_intp *dims, const char *expect);

/* 1 when every element of a float32/float64 array is finite (other types: 1). No exception. */
int cliff_py_all_finite(PyArrayObject *a);

/* ValueError naming `name` if any element is NaN or infinite. 0 on success, -1 on error. */
int cliff_py_check_finite(PyArrayObject *a, const char *name);
/* A thread count argument: an int in 0..4096 (0 = `zero`, e.g. "all cores") -> *out; -1 with
 * ValueError/TypeError naming `name` otherwise. */
int cliff_py_thread_count(PyObject *value, const char *name, const char *zero, int *out);

/* Number of elements in the leading dims (all but the last `trailing`). */
npy_intp cliff_py_leading(PyArrayObject *a, int trailing);

/* New array of `typenum` whose shape is a's leading dims (all but the last `drop`) followed by
 * the `n` dims in `tail`. */
PyArrayObject *cliff_py_new_like_leading(PyArrayObject *a, int drop, int n, const npy_intp *tail,
                                         int typenum);

/* Checkpoint arrays for the core: `names` (a sequence of str) and `arrays` (a sequence of the
 * same length) -> *count entries, float32 C-contiguous, at most 4 dims, finite (a corrupt
 * checkpoint is refused). They point into the converted arrays, held by the new list *keep
 * (item i for entry i), and into the names, held by *names_seq: release both and
 * PyMem_Free(*entries) when done. 0, or -1 with an exception (nothing to release). */
int cliff_py_checkpoint_arrays(PyObject *names, PyObject *arrays, PyObject **names_seq,
                               PyObject **keep, cliff_array **entries, Py_ssize_t *count);

/* A key table of the core -> a new list of (name, shape tuple, "float32" | "int64"), or NULL
 * with an exception. */
PyObject *cliff_py_arch_key_list(const cliff_arch_key *keys, size_t n);

/* "fp32" / "bf16" -> *out; -1 with a ValueError naming `name` otherwise. */
int cliff_py_precision(const char *s, const char *name, cliff_precision *out);

/* Core handles that travel as capsules (detector, focal estimator). The capsule owns the
 * handle: `destroy` frees it when the capsule is collected or closed. `name` must be a
 * string literal (the capsule keeps the pointer). */
/* New capsule owning `handle`; on failure `destroy(handle)` is called and NULL returned. */
PyObject *cliff_py_handle_new(void *handle, const char *name, void (*destroy)(void *));
/* The handle, or NULL with an exception: TypeError/ValueError for a wrong capsule, ValueError
 * "`what` is closed" once closed. */
void *cliff_py_handle_get(PyObject *cap, const char *name, const char *what);
/* Free the handle now (later gets raise "closed"); idempotent. 0, or -1 for a wrong capsule. */
int cliff_py_handle_close(PyObject *cap, const char *name);

/* Hooks, one per binding file. */
/* (each binding file adds its hook here, e.g. int cliff_py_geometry_init(PyObject *m);) */
int cliff_py_geometry_init(PyObject *m);
int cliff_py_crop_init(PyObject *m);
int cliff_py_render_init(PyObject *m);
int cliff_py_smpl_init(PyObject *m);
int cliff_py_fit_init(PyObject *m);
int cliff_py_model_init(PyObject *m);
int cliff_py_estimate_init(PyObject *m);
int cliff_py_fov_init(PyObject *m);

/* The cliff_net of a cliff._core.Model, marked in use so that close() defers freeing it until
 * cliff_py_model_release; NULL with ValueError when the model is closed. GIL held. */
cliff_net *cliff_py_model_acquire(PyObject *model);
void cliff_py_model_release(PyObject *model);
/* The cliff_smpl of a cliff._core.SMPL (type checked by the caller). */
cliff_smpl *cliff_py_smpl_handle(PyObject *smpl);
int cliff_py_arch_init(PyObject *m);

/* arch.c: new float64 arrays Mx (157,2051), Ms (157,157), c (157,), init (157,) for a collapsed
 * regressor (0, or -1 with an exception), and the dict that steals them. */
int cliff_py_regressor_arrays(PyArrayObject **out);
/* The same for a regressor of state size ns and input size nx. */
int cliff_py_regressor_arrays_sized(PyArrayObject **out, npy_intp ns, npy_intp nx);
PyObject *cliff_py_regressor_dict(PyArrayObject **out);
int cliff_py_detect_init(PyObject *m);

#endif
