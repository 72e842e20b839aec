/* detect.c (bindings) - cliff._core.yolo_*: the YOLOv3 person detector (csrc/nn/yolo.c).
 * The handle travels as a capsule; cliff/detect/yolo.py wraps it in the Detector class and
 * does the argument checks that name the user's arguments. */
#include "pyutil.h"

#define CAPSULE "cliff._core.detector"

static void destroy(void *d) { cliff_detector_free(d); }

static cliff_detector *get_detector(PyObject *cap) {
    return cliff_py_handle_get(cap, CAPSULE, "the detector");
}

static PyObject *py_open(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *opath;
    const char *prec;
    if (!PyArg_ParseTuple(args, "O&s:yolo_open", PyUnicode_FSConverter, &opath, &prec)) return NULL;
    cliff_detector_params p = cliff_detector_default_params();
    if (cliff_py_precision(prec, "precision", &p.precision) < 0) {
        Py_DECREF(opath);
        return NULL;
    }
    cliff_detector *d = NULL;
    cliff_status st;
    const char *path = PyBytes_AS_STRING(opath);
    Py_BEGIN_ALLOW_THREADS
    st = cliff_detector_create_from_file(path, &p, &d);
    Py_END_ALLOW_THREADS
    Py_DECREF(opath);
    if (st) return cliff_py_raise(st);
    return cliff_py_handle_new(d, CAPSULE, destroy);
}

static PyObject *py_close(PyObject *self, PyObject *cap) {
    (void)self;
    if (cliff_py_handle_close(cap, CAPSULE) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_weight_bytes(PyObject *self, PyObject *cap) {
    (void)self;
    cliff_detector *d = get_detector(cap);
    if (!d) return NULL;
    return PyLong_FromSize_t(cliff_detector_weight_bytes(d));
}

static int parse_params(cliff_detector_params *p, double conf, double nms, int all, Py_ssize_t maxp) {
    if (maxp < 0) {
        PyErr_SetString(PyExc_ValueError, "max_people: expected 0 (all) or a positive count");
        return -1;
    }
    p->confidence = (float)conf;
    p->nms_iou = (float)nms;
    p->classes = all ? CLIFF_DETECT_ALL_CLASSES : CLIFF_DETECT_PERSONS;
    p->max_per_image = (size_t)maxp;
    return 0;
}

static PyObject *rows_array(float *rows, size_t n) {
    npy_intp dims[2] = {(npy_intp)n, 8};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (out) memcpy(PyArray_DATA((PyArrayObject *)out), rows, n * 8 * sizeof(float));
    return out;
}

/* yolo_detect(cap, images, confidence, nms_iou, all_classes, max_per_image) -> (N, 8) */
static PyObject *py_detect(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *list;
    double conf, nms;
    int all;
    Py_ssize_t maxp;
    if (!PyArg_ParseTuple(args, "OO!ddpn:yolo_detect", &cap, &PyList_Type, &list, &conf, &nms, &all, &maxp))
        return NULL;
    cliff_detector *d = get_detector(cap);
    if (!d) return NULL;
    cliff_detector_params p = cliff_detector_default_params();
    if (parse_params(&p, conf, nms, all, maxp) < 0) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    const uint8_t **ptrs = PyMem_Calloc(n ? n : 1, sizeof *ptrs);
    size_t *hs = PyMem_Calloc(n ? n : 1, sizeof *hs), *ws = PyMem_Calloc(n ? n : 1, sizeof *ws);
    PyObject *keep = PyList_New(0), *out = NULL;
    float *rows = NULL;
    if (!ptrs || !hs || !ws || !keep) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyArray_FromAny(PyList_GET_ITEM(list, i), PyArray_DescrFromType(NPY_UINT8), 3, 3,
                                      NPY_ARRAY_CARRAY_RO, NULL);
        if (!a) goto done;
        int bad = PyArray_DIM((PyArrayObject *)a, 2) != 3;
        if (bad || PyList_Append(keep, a) < 0) {
            if (bad) PyErr_Format(PyExc_ValueError, "images[%zd]: expected shape (H, W, 3)", i);
            Py_DECREF(a);
            goto done;
        }
        ptrs[i] = PyArray_DATA((PyArrayObject *)a);
        hs[i] = (size_t)PyArray_DIM((PyArrayObject *)a, 0);
        ws[i] = (size_t)PyArray_DIM((PyArrayObject *)a, 1);
        Py_DECREF(a);
    }
    size_t cap_rows = cliff_detector_max_rows(&p, (size_t)n), nr = 0;
    rows = PyMem_RawMalloc((cap_rows ? cap_rows : 1) * 8 * sizeof(float));
    if (!rows) {
        PyErr_NoMemory();
        goto done;
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_detector_detect(d, ptrs, hs, ws, (size_t)n, &p, rows, cap_rows, &nr);
    Py_END_ALLOW_THREADS
    if (st) cliff_py_raise(st);
    else out = rows_array(rows, nr);
done:
    PyMem_RawFree(rows);
    PyMem_Free(ptrs);
    PyMem_Free(hs);
    PyMem_Free(ws);
    Py_XDECREF(keep);
    return out;
}

/* yolo_heads(cap, input (n, 416, 416, 3) float32) -> (h13, h26, h52) */
static PyObject *py_heads(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *oin;
    if (!PyArg_ParseTuple(args, "OO:yolo_heads", &cap, &oin)) return NULL;
    cliff_detector *d = get_detector(cap);
    if (!d) return NULL;
    npy_intp want[4] = {-1, 416, 416, 3};
    PyArrayObject *in = cliff_py_array_shape(oin, "input", NPY_FLOAT32, 0, 4, want, "(n, 416, 416, 3)");
    if (!in) return NULL;
    npy_intp n = PyArray_DIM(in, 0);
    PyArrayObject *h[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        npy_intp dims[4] = {n, 13 << k, 13 << k, 255};
        h[k] = (PyArrayObject *)PyArray_SimpleNew(4, dims, NPY_FLOAT32);
        if (!h[k]) goto fail;
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_detector_heads(d, PyArray_DATA(in), (size_t)n, PyArray_DATA(h[0]), PyArray_DATA(h[1]),
                              PyArray_DATA(h[2]));
    Py_END_ALLOW_THREADS
    if (st) {
        cliff_py_raise(st);
        goto fail;
    }
    Py_DECREF(in);
    return Py_BuildValue("(NNN)", h[0], h[1], h[2]);
fail:
    Py_DECREF(in);
    for (int k = 0; k < 3; k++) Py_XDECREF(h[k]);
    return NULL;
}

/* yolo_letterbox(image (H, W, 3) uint8, size) -> (size, size, 3) uint8 */
static PyObject *py_letterbox(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oimg;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "On:yolo_letterbox", &oimg, &size)) return NULL;
    if (size < 1 || size > 8192) return PyErr_Format(PyExc_ValueError, "size: expected 1..8192, got %zd", size);
    PyArrayObject *img = (PyArrayObject *)PyArray_FromAny(oimg, PyArray_DescrFromType(NPY_UINT8), 3, 3,
                                                          NPY_ARRAY_CARRAY_RO, NULL);
    if (!img) return NULL;
    if (PyArray_DIM(img, 2) != 3) {
        Py_DECREF(img);
        return PyErr_Format(PyExc_ValueError, "image: expected shape (H, W, 3)");
    }
    npy_intp dims[3] = {size, size, 3};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(3, dims, NPY_UINT8);
    if (!out) {
        Py_DECREF(img);
        return NULL;
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_letterbox_u8(PyArray_DATA(img), (size_t)PyArray_DIM(img, 0), (size_t)PyArray_DIM(img, 1),
                            (size_t)size, PyArray_DATA(out));
    Py_END_ALLOW_THREADS
    Py_DECREF(img);
    if (st) {
        Py_DECREF(out);
        return cliff_py_raise(st);
    }
    return (PyObject *)out;
}

/* yolo_postprocess(h13, h26, h52, sizes (n, 2) [height, width], confidence, nms_iou,
 *                  all_classes, max_per_image) -> (N, 8) */
static PyObject *py_postprocess(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[3], *osz;
    double conf, nms;
    int all;
    Py_ssize_t maxp;
    if (!PyArg_ParseTuple(args, "OOOOddpn:yolo_postprocess", &o[0], &o[1], &o[2], &osz, &conf, &nms, &all, &maxp))
        return NULL;
    cliff_detector_params p = cliff_detector_default_params();
    if (parse_params(&p, conf, nms, all, maxp) < 0) return NULL;
    static const char *names[3] = {"head13", "head26", "head52"};
    static const char *expect[3] = {"(n, 13, 13, 255)", "(n, 26, 26, 255)", "(n, 52, 52, 255)"};
    PyArrayObject *h[3] = {NULL, NULL, NULL}, *sz = NULL;
    PyObject *out = NULL;
    float *rows = NULL;
    size_t *hs = NULL, *ws = NULL;
    for (int k = 0; k < 3; k++) {
        npy_intp want[4] = {-1, 13 << k, 13 << k, 255};
        h[k] = cliff_py_array_shape(o[k], names[k], NPY_FLOAT32, 0, 4, want, expect[k]);
        if (!h[k]) goto done;
    }
    npy_intp wsz[2] = {-1, 2};
    sz = cliff_py_array_shape(osz, "sizes", NPY_INT64, 0, 2, wsz, "(n, 2) [height, width]");
    if (!sz) goto done;
    npy_intp n = PyArray_DIM(sz, 0);
    if (PyArray_DIM(h[0], 0) != n || PyArray_DIM(h[1], 0) != n || PyArray_DIM(h[2], 0) != n) {
        PyErr_SetString(PyExc_ValueError, "head13, head26, head52 and sizes: expected the same n");
        goto done;
    }
    hs = PyMem_Calloc(n ? n : 1, sizeof *hs);
    ws = PyMem_Calloc(n ? n : 1, sizeof *ws);
    size_t cap_rows = cliff_detector_max_rows(&p, (size_t)n), nr = 0;
    rows = PyMem_RawMalloc((cap_rows ? cap_rows : 1) * 8 * sizeof(float));
    if (!hs || !ws || !rows) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *s = PyArray_DATA(sz);
    for (npy_intp i = 0; i < n; i++) {
        if (s[2 * i] < 1 || s[2 * i + 1] < 1) {
            PyErr_Format(PyExc_ValueError, "sizes[%zd]: expected positive [height, width]", (Py_ssize_t)i);
            goto done;
        }
        hs[i] = (size_t)s[2 * i], ws[i] = (size_t)s[2 * i + 1];
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_yolo_postprocess(PyArray_DATA(h[0]), PyArray_DATA(h[1]), PyArray_DATA(h[2]), (size_t)n, hs, ws,
                                &p, rows, cap_rows, &nr);
    Py_END_ALLOW_THREADS
    if (st) cliff_py_raise(st);
    else out = rows_array(rows, nr);
done:
    for (int k = 0; k < 3; k++) Py_XDECREF(h[k]);
    Py_XDECREF(sz);
    PyMem_Free(hs);
    PyMem_Free(ws);
    PyMem_RawFree(rows);
    return out;
}

static PyMethodDef methods[] = {
    {"yolo_open", py_open, METH_VARARGS, "yolo_open(path, precision) -> detector capsule."},
    {"yolo_close", py_close, METH_O, "yolo_close(detector) -> None."},
    {"yolo_weight_bytes", py_weight_bytes, METH_O, "yolo_weight_bytes(detector) -> int."},
    {"yolo_detect", py_detect, METH_VARARGS,
     "yolo_detect(detector, images, confidence, nms_iou, all_classes, max_per_image) -> (N, 8) float32."},
    {"yolo_heads", py_heads, METH_VARARGS,
     "yolo_heads(detector, input (n, 416, 416, 3) float32) -> (head13, head26, head52) NHWC."},
    {"yolo_letterbox", py_letterbox, METH_VARARGS, "yolo_letterbox(image, size) -> (size, size, 3) uint8."},
    {"yolo_postprocess", py_postprocess, METH_VARARGS,
     "yolo_postprocess(head13, head26, head52, sizes, confidence, nms_iou, all_classes, max_per_image) -> (N, 8)."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_detect_init(PyObject *m) { return PyModule_AddFunctions(m, methods); }
