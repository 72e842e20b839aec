/* crop.c (bindings) - cliff._core.crop: official CLIFF preprocessing of person boxes. */
#include "pyutil.h"

/* image: any array-like of uint8 with shape (H, W, 3) -> aligned C-contiguous uint8 array. */
static PyArrayObject *image_array(PyObject *obj) {
    PyObject *probe = obj == Py_None ? NULL : PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!probe) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "image: expected a uint8 array of shape (H, W, 3), got %.80s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *p = (PyArrayObject *)probe;
    if (PyArray_TYPE(p) != NPY_UINT8) {
        PyObject *dt = PyObject_Str((PyObject *)PyArray_DESCR(p));
        if (dt) /* else: the exception of PyObject_Str stands (one exception per failure) */
            PyErr_Format(PyExc_TypeError, "image: expected dtype uint8 (pixel values 0..255), got %S; "
                         "convert with np.clip(x, 0, 255).astype(np.uint8) if that is what you mean",
                         dt);
        Py_XDECREF(dt);
        Py_DECREF(probe);
        return NULL;
    }
    if (PyArray_NDIM(p) != 3 || PyArray_DIM(p, 2) != 3) {
        PyObject *shape = PyObject_GetAttrString(probe, "shape");
        if (shape) PyErr_Format(PyExc_ValueError, "image: expected shape (H, W, 3), got %S", shape);
        Py_XDECREF(shape);
        Py_DECREF(probe);
        return NULL;
    }
    if (PyArray_DIM(p, 0) == 0 || PyArray_DIM(p, 1) == 0) {
        PyErr_Format(PyExc_ValueError, "image: empty image (%ld x %ld pixels)",
                     (long)PyArray_DIM(p, 0), (long)PyArray_DIM(p, 1));
        Py_DECREF(probe);
        return NULL;
    }
    PyObject *out = PyArray_FromAny(probe, PyArray_DescrFromType(NPY_UINT8), 0, 0,
                                    NPY_ARRAY_CARRAY_RO, NULL);
    Py_DECREF(probe);
    return (PyArrayObject *)out;
}

/* xyxy: (N, 4) or (4,) real numbers, finite -> float32 (float32/float16 input) or float64
 * (N, 4) contiguous. */
static PyArrayObject *boxes_array(PyObject *obj, npy_intp *n) {
    int t = cliff_py_float_type(obj, "xyxy");
    if (t < 0) return NULL;
    PyArrayObject *a = cliff_py_array(obj, "xyxy", t);
    if (!a) return NULL;
    int nd = PyArray_NDIM(a);
    if (!((nd == 1 || nd == 2) && PyArray_DIM(a, nd - 1) == 4)) {
        PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
        if (shape)
            PyErr_Format(PyExc_ValueError, "xyxy: expected shape (N, 4) or (4,) of [x1, y1, x2, y2], "
                         "got %S", shape);
        Py_XDECREF(shape);
        Py_DECREF(a);
        return NULL;
    }
    if (cliff_py_check_finite(a, "xyxy") < 0) {
        Py_DECREF(a);
        return NULL;
    }
    *n = nd == 1 ? 1 : PyArray_DIM(a, 0);
    return a;
}

static PyObject *py_crop(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *kwlist[] = {"image", "xyxy", "rescale", "bgr", "nhwc", "ipp", "square", "resize", "affine", NULL};
    PyObject *image_obj, *xyxy_obj, *rescale_obj = NULL;
    int bgr = 0, nhwc = 0, ipp = 0, square = 0, resize = -1, affine = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O$pppiip:crop", kwlist, &image_obj, &xyxy_obj,
                                     &rescale_obj, &bgr, &nhwc, &ipp, &square, &resize, &affine))
        return NULL;
    if (affine && square)
        return PyErr_Format(PyExc_ValueError, "square and affine: choose one crop window");
    if (resize < -1 || resize > CLIFF_RESIZE_AUTO)
        return PyErr_Format(PyExc_ValueError, "resize: expected a cliff_resize value 0..3 (or -1: from ipp), got %d", resize);
    if (square < 0 || square > 256)
        return PyErr_Format(PyExc_ValueError, "square: expected 0 (CLIFF's 256 x 192 crop) or a side of 1..256 pixels, got %d", square);
    const npy_intp OH = square ? square : CLIFF_CROP_HEIGHT, OW = square ? square : CLIFF_CROP_WIDTH;
    double rescale = CLIFF_BOX_RESCALE;
    if (rescale_obj) {
        if (!PyNumber_Check(rescale_obj))
            return PyErr_Format(PyExc_TypeError, "rescale: expected a number, got %.80s",
                                Py_TYPE(rescale_obj)->tp_name);
        rescale = PyFloat_AsDouble(rescale_obj);
        if (rescale == -1.0 && PyErr_Occurred()) return NULL;
    }
    PyArrayObject *image = image_array(image_obj);
    if (!image) return NULL;
    npy_intp n = 0;
    PyArrayObject *boxes = boxes_array(xyxy_obj, &n);
    if (!boxes) {
        Py_DECREF(image);
        return NULL;
    }
    npy_intp crop_shape[4] = {n, 3, OH, OW};
    if (nhwc) {
        crop_shape[1] = OH;
        crop_shape[2] = OW;
        crop_shape[3] = 3;
    }
    npy_intp c_shape[2] = {n, 2}, b_shape[2] = {n, 3};
    PyArrayObject *crops = (PyArrayObject *)PyArray_SimpleNew(4, crop_shape, NPY_FLOAT32);
    PyArrayObject *center = (PyArrayObject *)PyArray_SimpleNew(2, c_shape, NPY_FLOAT64);
    PyArrayObject *scale = (PyArrayObject *)PyArray_SimpleNew(1, c_shape, NPY_FLOAT64);
    PyArrayObject *box = (PyArrayObject *)PyArray_SimpleNew(2, b_shape, NPY_FLOAT32);
    PyObject *result = NULL;
    if (!crops || !center || !scale || !box) goto done;

    cliff_status st;
    const uint8_t *img = (const uint8_t *)PyArray_DATA(image);
    size_t h = (size_t)PyArray_DIM(image, 0), w = (size_t)PyArray_DIM(image, 1);
    const void *xy = PyArray_DATA(boxes);
    int f32 = PyArray_TYPE(boxes) == NPY_FLOAT32;
    double *c = (double *)PyArray_DATA(center), *s = (double *)PyArray_DATA(scale);
    float *b = (float *)PyArray_DATA(box);
    cliff_crop_params params = cliff_crop_default_params();
    params.rescale = rescale;
    params.layout = nhwc ? CLIFF_LAYOUT_NHWC_F32 : CLIFF_LAYOUT_NCHW_F32;
    params.resize = resize >= 0 ? (cliff_resize)resize : ipp ? CLIFF_RESIZE_IPP : CLIFF_RESIZE_OPENCV;
    params.bgr = bgr != 0;
    if (square) {
        params.window = CLIFF_WINDOW_SQUARE;
        params.out_height = params.out_width = (int)OH;
    } else if (affine) { /* mmhuman3d's warp to the 256 x 192 input */
        params.window = CLIFF_WINDOW_AFFINE;
        params.out_height = CLIFF_CROP_HEIGHT;
        params.out_width = CLIFF_CROP_WIDTH;
    }
    Py_BEGIN_ALLOW_THREADS
    /* float32 boxes (detector output) get the official mixed precision, others float64 */
    float *dst = (float *)PyArray_DATA(crops);
    st = f32 ? cliff_crop_boxes_f32in(img, h, w, xy, (size_t)n, &params, dst, c, s)
             : cliff_crop_boxes(img, h, w, xy, (size_t)n, &params, dst, c, s);
    if (st == CLIFF_OK)
        for (npy_intp i = 0; i < n; i++) {
            /* what the official demo feeds bbox_info: float32 centre, float32(scale) * 200 */
            b[3 * i + 0] = (float)c[2 * i];
            b[3 * i + 1] = (float)c[2 * i + 1];
            b[3 * i + 2] = (float)s[i] * 200.0f;
        }
    Py_END_ALLOW_THREADS
    if (st != CLIFF_OK) {
        cliff_py_raise(st);
        goto done;
    }
    result = Py_BuildValue("{s:O,s:O,s:O,s:O}", "crops", crops, "boxes", box, "center", center,
                           "scale", scale);
done:
    Py_DECREF(image);
    Py_DECREF(boxes);
    Py_XDECREF(crops);
    Py_XDECREF(center);
    Py_XDECREF(scale);
    Py_XDECREF(box);
    return result;
}

static PyMethodDef crop_methods[] = {
    {"crop", (PyCFunction)(void (*)(void))py_crop, METH_VARARGS | METH_KEYWORDS,
     "crop(image, xyxy, rescale=1.1, *, bgr=False, nhwc=False, ipp=False, square=0, resize=-1, affine=False) -> dict with 'crops' "
     "float32 (N,3,256,192) (or (N,256,192,3) with nhwc), 'boxes' float32 (N,3) [cx, cy, b], "
     "'center' float64 (N,2), 'scale' float64 (N,). image: uint8 (H,W,3), RGB unless bgr. "
     "ipp: resize as OpenCV builds with Intel IPP do."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_crop_init(PyObject *m) { return PyModule_AddFunctions(m, crop_methods); }
