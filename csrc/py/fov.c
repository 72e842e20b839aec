/* fov.c (bindings) - cliff._core.fov_*: HumanFoV, the learned focal length (csrc/fov.c). The
 * handle travels as a capsule; cliff/focal.py wraps it in FocalEstimator and does the argument
 * checks that name the user's arguments. The GIL is released for all C work. */
#include "pyutil.h"

#define CAPSULE "cliff._core.fov"

static void destroy(void *f) { cliff_fov_free(f); }

static cliff_fov *get_fov(PyObject *cap) {
    return cliff_py_handle_get(cap, CAPSULE, "the focal estimator");
}

/* fov_open(precision, names, arrays) -> capsule */
static PyObject *py_open(PyObject *self, PyObject *args) {
    (void)self;
    const char *prec;
    PyObject *names, *arrays;
    if (!PyArg_ParseTuple(args, "sOO:fov_open", &prec, &names, &arrays)) return NULL;
    cliff_precision p;
    if (cliff_py_precision(prec, "precision", &p) < 0) return NULL;
    PyObject *nseq, *keep;
    cliff_array *ca;
    Py_ssize_t n;
    if (cliff_py_checkpoint_arrays(names, arrays, &nseq, &keep, &ca, &n) < 0) return NULL;
    cliff_fov *f = NULL;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_fov_create(p, ca, (size_t)n, &f);
    Py_END_ALLOW_THREADS
    PyMem_Free(ca);
    Py_DECREF(keep);
    Py_DECREF(nseq);
    if (st) return cliff_py_raise(st);
    return cliff_py_handle_new(f, CAPSULE, destroy);
}

static PyObject *py_close(PyObject *self, PyObject *cap) {
    (void)self;
    if (cliff_py_handle_close(cap, CAPSULE) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_threads(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *value = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:fov_threads", &cap, &value)) return NULL;
    cliff_fov *f = get_fov(cap);
    if (!f) return NULL;
    if (value != Py_None) {
        int n;
        if (cliff_py_thread_count(value, "threads", "the process-wide count", &n) < 0) return NULL;
        cliff_fov_set_num_threads(f, n);
    }
    return PyLong_FromLong(cliff_fov_get_num_threads(f));
}

static PyObject *py_weight_bytes(PyObject *self, PyObject *cap) {
    (void)self;
    cliff_fov *f = get_fov(cap);
    if (!f) return NULL;
    return PyLong_FromSize_t(cliff_fov_weight_bytes(f));
}

/* A list of (H, W, 3) uint8 images -> pointers and sizes (arrays held by *keep). */
static int get_images(PyObject *list, PyObject **keep, const uint8_t ***ptrs, size_t **hs, size_t **ws) {
    Py_ssize_t n = PyList_GET_SIZE(list);
    *ptrs = PyMem_Calloc(n ? n : 1, sizeof **ptrs);
    *hs = PyMem_Calloc(n ? n : 1, sizeof **hs);
    *ws = PyMem_Calloc(n ? n : 1, sizeof **ws);
    *keep = PyList_New(0);
    if (!*ptrs || !*hs || !*ws || !*keep) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyArray_FromAny(PyList_GET_ITEM(list, i), PyArray_DescrFromType(NPY_UINT8), 3, 3,
                                      NPY_ARRAY_CARRAY_RO, NULL);
        if (!a) return -1;
        int bad = PyArray_DIM((PyArrayObject *)a, 2) != 3;
        if (bad || PyList_Append(*keep, a) < 0) {
            if (bad) PyErr_Format(PyExc_ValueError, "images[%zd]: expected shape (H, W, 3)", i);
            Py_DECREF(a);
            return -1;
        }
        (*ptrs)[i] = PyArray_DATA((PyArrayObject *)a);
        (*hs)[i] = (size_t)PyArray_DIM((PyArrayObject *)a, 0);
        (*ws)[i] = (size_t)PyArray_DIM((PyArrayObject *)a, 1);
        Py_DECREF(a);
    }
    return 0;
}

static void free_images(PyObject *keep, const uint8_t **ptrs, size_t *hs, size_t *ws) {
    Py_XDECREF(keep);
    PyMem_Free(ptrs);
    PyMem_Free(hs);
    PyMem_Free(ws);
}

/* fov_predict(cap, images, bgr) -> (vfov (n,), focal (n,)) float32 */
static PyObject *py_predict(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *list, *keep = NULL, *out = NULL;
    int bgr;
    if (!PyArg_ParseTuple(args, "OO!p:fov_predict", &cap, &PyList_Type, &list, &bgr)) return NULL;
    cliff_fov *f = get_fov(cap);
    if (!f) return NULL;
    const uint8_t **ptrs = NULL;
    size_t *hs = NULL, *ws = NULL;
    PyArrayObject *v = NULL, *fo = NULL;
    if (get_images(list, &keep, &ptrs, &hs, &ws) < 0) goto done;
    npy_intp n = PyList_GET_SIZE(list);
    v = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT32);
    fo = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT32);
    if (!v || !fo) goto done;
    cliff_status st;
    float *pv = PyArray_DATA(v), *pf = PyArray_DATA(fo);
    Py_BEGIN_ALLOW_THREADS
    st = cliff_fov_predict(f, ptrs, hs, ws, (size_t)n, bgr, pv, pf);
    Py_END_ALLOW_THREADS
    if (st) {
        cliff_py_raise(st);
        goto done;
    }
    out = Py_BuildValue("(OO)", v, fo);
done:
    Py_XDECREF(v);
    Py_XDECREF(fo);
    free_images(keep, ptrs, hs, ws);
    return out;
}

/* fov_run(cap, inputs (n, 256, 256, 3) float32) -> (raw (n, 2), features (n, 720)) */
static PyObject *py_run(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *oin;
    if (!PyArg_ParseTuple(args, "OO:fov_run", &cap, &oin)) return NULL;
    cliff_fov *f = get_fov(cap);
    if (!f) return NULL;
    npy_intp want[4] = {-1, CLIFF_FOV_SIZE, CLIFF_FOV_SIZE, 3};
    PyArrayObject *in = cliff_py_array_shape(oin, "inputs", NPY_FLOAT32, 0, 4, want, "(n, 256, 256, 3) float32");
    if (!in) return NULL;
    if (cliff_py_check_finite(in, "inputs") < 0) {
        Py_DECREF(in);
        return NULL;
    }
    npy_intp n = PyArray_DIM(in, 0), d2[2] = {n, 2}, df[2] = {n, CLIFF_FOV_FEATURES};
    PyArrayObject *raw = (PyArrayObject *)PyArray_SimpleNew(2, d2, NPY_FLOAT32);
    PyArrayObject *feat = (PyArrayObject *)PyArray_SimpleNew(2, df, NPY_FLOAT32);
    PyObject *out = NULL;
    if (raw && feat) {
        cliff_status st;
        const float *pi = PyArray_DATA(in);
        float *pr = PyArray_DATA(raw), *pf = PyArray_DATA(feat);
        Py_BEGIN_ALLOW_THREADS
        st = cliff_fov_run(f, pi, (size_t)n, pr, pf);
        Py_END_ALLOW_THREADS
        if (st)
            cliff_py_raise(st);
        else
            out = Py_BuildValue("(OO)", raw, feat);
    }
    Py_XDECREF(raw);
    Py_XDECREF(feat);
    Py_DECREF(in);
    return out;
}

/* fov_preprocess(images, bgr) -> (n, 256, 256, 3) float32 */
static PyObject *py_preprocess(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *list, *keep = NULL;
    int bgr;
    if (!PyArg_ParseTuple(args, "O!p:fov_preprocess", &PyList_Type, &list, &bgr)) return NULL;
    const uint8_t **ptrs = NULL;
    size_t *hs = NULL, *ws = NULL;
    PyArrayObject *out = NULL;
    if (get_images(list, &keep, &ptrs, &hs, &ws) < 0) goto done;
    npy_intp n = PyList_GET_SIZE(list), dims[4] = {n, CLIFF_FOV_SIZE, CLIFF_FOV_SIZE, 3};
    out = (PyArrayObject *)PyArray_SimpleNew(4, dims, NPY_FLOAT32);
    if (!out) goto done;
    cliff_status st = CLIFF_OK;
    float *po = PyArray_DATA(out);
    const size_t item = (size_t)CLIFF_FOV_SIZE * CLIFF_FOV_SIZE * 3;
    Py_ssize_t bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !st; i++)
        if ((st = cliff_fov_preprocess(ptrs[i], hs[i], ws[i], bgr, po + (size_t)i * item))) bad = i;
    Py_END_ALLOW_THREADS
    if (st) {
        PyErr_Format(PyExc_ValueError, "images[%zd]: %s", bad, cliff_last_error());
        Py_CLEAR(out);
    }
done:
    free_images(keep, ptrs, hs, ws);
    return (PyObject *)out;
}

/* fov_letterbox(image) -> (256, 256, 3) uint8 */
static PyObject *py_letterbox(PyObject *self, PyObject *arg) {
    (void)self;
    PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(arg, PyArray_DescrFromType(NPY_UINT8), 3, 3,
                                                        NPY_ARRAY_CARRAY_RO, NULL);
    if (!a) return NULL;
    if (PyArray_DIM(a, 2) != 3) {
        Py_DECREF(a);
        return PyErr_Format(PyExc_ValueError, "image: expected shape (H, W, 3)");
    }
    npy_intp dims[3] = {CLIFF_FOV_SIZE, CLIFF_FOV_SIZE, 3};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(3, dims, NPY_UINT8);
    if (out) {
        cliff_status st;
        const uint8_t *src = PyArray_DATA(a);
        uint8_t *dst = PyArray_DATA(out);
        size_t h = (size_t)PyArray_DIM(a, 0), w = (size_t)PyArray_DIM(a, 1);
        Py_BEGIN_ALLOW_THREADS
        st = cliff_fov_letterbox_u8(src, h, w, dst);
        Py_END_ALLOW_THREADS
        if (st) {
            cliff_py_raise(st);
            Py_CLEAR(out);
        }
    }
    Py_DECREF(a);
    return (PyObject *)out;
}

/* fov_arch_keys() -> [(name, shape, dtype)] */
static PyObject *py_arch_keys(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    const cliff_arch_key *keys;
    size_t n;
    cliff_status st = cliff_fov_arch_keys(&keys, &n);
    if (st) return cliff_py_raise(st);
    return cliff_py_arch_key_list(keys, n);
}

static PyMethodDef methods[] = {
    {"fov_arch_keys", py_arch_keys, METH_NOARGS,
     "fov_arch_keys() -> [(name, shape, dtype)]: every key of HumanFoV's file, state_dict order."},
    {"fov_open", py_open, METH_VARARGS, "fov_open(precision, names, arrays) -> capsule."},
    {"fov_close", py_close, METH_O, "fov_close(capsule) -> None."},
    {"fov_threads", py_threads, METH_VARARGS, "fov_threads(capsule[, n]) -> int."},
    {"fov_weight_bytes", py_weight_bytes, METH_O, "fov_weight_bytes(capsule) -> int."},
    {"fov_predict", py_predict, METH_VARARGS,
     "fov_predict(capsule, images, bgr) -> (vfov (n,) radians, focal (n,) pixels) float32."},
    {"fov_run", py_run, METH_VARARGS,
     "fov_run(capsule, inputs (n, 256, 256, 3) float32) -> (raw (n, 2), features (n, 720))."},
    {"fov_preprocess", py_preprocess, METH_VARARGS,
     "fov_preprocess(images, bgr) -> (n, 256, 256, 3) float32: HumanFoV's network input."},
    {"fov_letterbox", py_letterbox, METH_O,
     "fov_letterbox(image) -> (256, 256, 3) uint8: the release's resize_image."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_fov_init(PyObject *m) { return PyModule_AddFunctions(m, methods); }
