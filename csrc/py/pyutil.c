/* pyutil.c - array conversion and error helpers for the bindings. */
#include "pyutil.h"

#include <math.h>

cliff_state *cliff_py_state(PyObject *module) { return (cliff_state *)PyModule_GetState(module); }

PyObject *cliff_py_raise(cliff_status st) {
    const char *msg = cliff_last_error();
    if (!msg || !*msg) msg = "cliff: unknown failure";
    switch (st) {
    case CLIFF_ENOMEM: PyErr_SetString(PyExc_MemoryError, msg); break;
    case CLIFF_EIO: PyErr_SetString(PyExc_OSError, msg); break;
    case CLIFF_EDNNL: PyErr_SetString(PyExc_RuntimeError, msg); break;
    case CLIFF_EINVAL:
    case CLIFF_ESTATE:
    default: PyErr_SetString(PyExc_ValueError, msg); break;
    }
    return NULL;
}

static int is_real_kind(char kind) { return kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b'; }

int cliff_py_float_type(PyObject *obj, const char *name) {
    PyArray_Descr *d = NULL;
    if (PyArray_Check(obj)) {
        d = PyArray_DESCR((PyArrayObject *)obj);
        Py_INCREF(d);
    } else {
        PyObject *tmp = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
        if (!tmp) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: expected an array of real numbers, got %.80s", name,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        d = PyArray_DESCR((PyArrayObject *)tmp);
        Py_INCREF(d);
        Py_DECREF(tmp);
    }
    char kind = d->kind;
    int elsize = (int)PyDataType_ELSIZE(d);
    Py_DECREF(d);
    if (!is_real_kind(kind)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an array of real numbers (float32 or float64), "
                                      "got dtype kind '%c'", name, kind);
        return -1;
    }
    if (kind == 'f' && elsize <= 4) return NPY_FLOAT32;
    if (kind == 'f' && elsize > 8) {
        PyErr_Format(PyExc_TypeError, "%s: float%d is not supported; use float32 or float64", name,
                     elsize * 8);
        return -1;
    }
    return NPY_FLOAT64;
}

PyArrayObject *cliff_py_array(PyObject *obj, const char *name, int typenum) {
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s: expected an array, got None", name);
        return NULL;
    }
    PyObject *probe = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!probe) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected an array of real numbers, got %.80s", name,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    char kind = PyArray_DESCR((PyArrayObject *)probe)->kind;
    if (!is_real_kind(kind)) {
        Py_DECREF(probe);
        PyErr_Format(PyExc_TypeError, "%s: expected an array of real numbers, got dtype kind '%c'",
                     name, kind);
        return NULL;
    }
    PyObject *out = PyArray_FromAny(probe, PyArray_DescrFromType(typenum), 0, 0,
                                    NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(probe);
    return (PyArrayObject *)out;
}

static void shape_str(PyArrayObject *a, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "(");
    for (int i = 0; i < PyArray_NDIM(a) && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %ld" : "%ld", (long)PyArray_DIM(a, i));
    if (off < n) snprintf(buf + off, n - off, PyArray_NDIM(a) == 1 ? ",)" : ")");
}

PyArrayObject *cliff_py_array_shape(PyObject *obj, const char *name, int typenum, int leading,
                                    int ndim, const npy_intp *dims, const char *expect) {
    PyArrayObject *a = cliff_py_array(obj, name, typenum);
    if (!a) return NULL;
    int nd = PyArray_NDIM(a), ok = leading ? nd >= ndim : nd == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (dims[i] >= 0 && PyArray_DIM(a, nd - ndim + i) != dims[i]) ok = 0;
    if (!ok) {
        char got[128];
        shape_str(a, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "%s: expected shape %s, got %s", name, expect, got);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

int cliff_py_all_finite(PyArrayObject *a) {
    npy_intp n = PyArray_SIZE(a);
    int bad = 0;
    if (PyArray_TYPE(a) == NPY_FLOAT32) {
        const float *p = (const float *)PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !isfinite(p[i]);
    } else if (PyArray_TYPE(a) == NPY_FLOAT64) {
        const double *p = (const double *)PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !isfinite(p[i]);
    }
    return !bad;
}

int cliff_py_check_finite(PyArrayObject *a, const char *name) {
    if (cliff_py_all_finite(a)) return 0;
    PyErr_Format(PyExc_ValueError, "%s: contains NaN or infinite values", name);
    return -1;
}

npy_intp cliff_py_leading(PyArrayObject *a, int trailing) {
    npy_intp n = 1;
    for (int i = 0; i < PyArray_NDIM(a) - trailing; i++) n *= PyArray_DIM(a, i);
    return n;
}

PyArrayObject *cliff_py_new_like_leading(PyArrayObject *a, int drop, int n, const npy_intp *tail,
                                         int typenum) {
    npy_intp shape[NPY_MAXDIMS];
    int lead = PyArray_NDIM(a) - drop;
    if (lead < 0) lead = 0;
    if (lead + n > NPY_MAXDIMS) {
        PyErr_SetString(PyExc_ValueError, "too many dimensions");
        return NULL;
    }
    for (int i = 0; i < lead; i++) shape[i] = PyArray_DIM(a, i);
    for (int i = 0; i < n; i++) shape[lead + i] = tail[i];
    return (PyArrayObject *)PyArray_SimpleNew(lead + n, shape, typenum);
}

int cliff_py_checkpoint_arrays(PyObject *names, PyObject *arrays, PyObject **names_seq,
                               PyObject **keep, cliff_array **entries, Py_ssize_t *count) {
    *names_seq = *keep = NULL;
    *entries = NULL;
    *count = 0;
    PyObject *nseq = PySequence_Fast(names, "names: expected a sequence of str");
    if (!nseq) return -1;
    PyObject *aseq = PySequence_Fast(arrays, "arrays: expected a sequence of arrays");
    if (!aseq) {
        Py_DECREF(nseq);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(nseq);
    cliff_array *ca = NULL;
    PyObject *list = NULL;
    if (PySequence_Fast_GET_SIZE(aseq) != n) {
        PyErr_SetString(PyExc_ValueError, "names and arrays differ in length");
        goto fail;
    }
    ca = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ca);
    list = PyList_New(0);
    if (!ca || !list) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(nseq, i));
        if (!s) goto fail;
        PyArrayObject *a = cliff_py_array(PySequence_Fast_GET_ITEM(aseq, i), s, NPY_FLOAT32);
        if (!a) goto fail;
        int rc = PyList_Append(list, (PyObject *)a);
        Py_DECREF(a); /* the list holds it */
        if (rc) goto fail;
        if (PyArray_NDIM(a) > 4) {
            PyErr_Format(PyExc_ValueError, "%s: expected at most 4 dimensions", s);
            goto fail;
        }
        if (!cliff_py_all_finite(a)) { /* a corrupt checkpoint: refuse, not NaN bodies */
            PyErr_Format(PyExc_ValueError, "checkpoint key '%s' contains NaN or infinite values", s);
            goto fail;
        }
        ca[i].name = s;
        ca[i].ndim = (size_t)PyArray_NDIM(a);
        for (size_t d = 0; d < ca[i].ndim; d++) ca[i].shape[d] = PyArray_DIM(a, d);
        ca[i].data = (const float *)PyArray_DATA(a);
    }
    Py_DECREF(aseq);
    *names_seq = nseq;
    *keep = list;
    *entries = ca;
    *count = n;
    return 0;
fail:
    PyMem_Free(ca);
    Py_XDECREF(list);
    Py_DECREF(nseq);
    Py_DECREF(aseq);
    return -1;
}

int cliff_py_thread_count(PyObject *value, const char *name, const char *zero, int *out) {
    if (!value) {
        PyErr_Format(PyExc_TypeError, "%s: cannot be deleted", name);
        return -1;
    }
    long n = PyLong_AsLong(value);
    if (n == -1 && PyErr_Occurred()) return -1;
    if (n < 0 || n > 4096) {
        PyErr_Format(PyExc_ValueError, "%s: expected 0 (%s) or a thread count 1..4096, got %ld", name,
                     zero, n);
        return -1;
    }
    *out = (int)n;
    return 0;
}

PyObject *cliff_py_arch_key_list(const cliff_arch_key *keys, size_t n) {
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        const cliff_arch_key *k = &keys[i];
        PyObject *shape = PyTuple_New(k->ndim);
        if (!shape) goto fail;
        for (int d = 0; d < k->ndim; d++) {
            PyObject *dim = PyLong_FromLongLong(k->shape[d]);
            if (!dim) {
                Py_DECREF(shape);
                goto fail;
            }
            PyTuple_SET_ITEM(shape, d, dim);
        }
        PyObject *item = Py_BuildValue("(sNs)", k->name, shape, k->dtype == CLIFF_DTYPE_I64 ? "int64" : "float32");
        if (!item) goto fail;
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

int cliff_py_precision(const char *s, const char *name, cliff_precision *out) {
    if (strcmp(s, "fp32") == 0)
        *out = CLIFF_PRECISION_FP32;
    else if (strcmp(s, "bf16") == 0)
        *out = CLIFF_PRECISION_BF16;
    else {
        PyErr_Format(PyExc_ValueError, "%s: expected 'fp32' or 'bf16', got '%s'", name, s);
        return -1;
    }
    return 0;
}

typedef struct {
    void *handle;
    void (*destroy)(void *);
} handle_holder;

static void handle_capsule_free(PyObject *cap) {
    handle_holder *h = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
    if (!h) {
        PyErr_Clear();
        return;
    }
    if (h->handle) h->destroy(h->handle);
    PyMem_Free(h);
}

PyObject *cliff_py_handle_new(void *handle, const char *name, void (*destroy)(void *)) {
    handle_holder *h = PyMem_Malloc(sizeof *h);
    if (!h) {
        destroy(handle);
        return PyErr_NoMemory();
    }
    h->handle = handle;
    h->destroy = destroy;
    PyObject *cap = PyCapsule_New(h, name, handle_capsule_free);
    if (!cap) {
        destroy(handle);
        PyMem_Free(h);
    }
    return cap;
}

void *cliff_py_handle_get(PyObject *cap, const char *name, const char *what) {
    handle_holder *h = PyCapsule_GetPointer(cap, name);
    if (!h) return NULL;
    if (!h->handle) PyErr_Format(PyExc_ValueError, "%s is closed", what);
    return h->handle;
}

int cliff_py_handle_close(PyObject *cap, const char *name) {
    handle_holder *h = PyCapsule_GetPointer(cap, name);
    if (!h) return -1;
    if (h->handle) h->destroy(h->handle);
    h->handle = NULL;
    return 0;
}
