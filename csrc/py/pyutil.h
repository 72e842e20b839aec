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

/* Per-module state (no global mutable state in the binding). Areas add their heap types. */
typedef struct {
    PyTypeObject *smpl_type;
    PyTypeObject *model_type;
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

/* ValueError naming `name` if any element is NaN or infinite. 0 on success, -1 on error. */
int cliff_py_check_finite(PyArrayObject *a, const char *name);

/* Number of elements in the leading dims (all but the last `trailing`). */
npy_intp cliff_py_leading(PyArrayObject *a, int trailing);

/* New array of `typenum` whose shape is a's leading dims (all but the last `drop`) followed by
 * the `n` dims in `tail`. */
PyArrayObject *cliff_py_new_like_leading(PyArrayObject *a, int drop, int n, const npy_intp *tail,
                                         int typenum);

/* Hooks, one per binding file. */
/* (each binding file adds its hook here, e.g. int cliff_py_geometry_init(PyObject *m);) */
int cliff_py_geometry_init(PyObject *m);
int cliff_py_crop_init(PyObject *m);
int cliff_py_render_init(PyObject *m);
int cliff_py_smpl_init(PyObject *m);
int cliff_py_fit_init(PyObject *m);
int cliff_py_model_init(PyObject *m);
int cliff_py_detect_init(PyObject *m);

#endif
