/* geometry.c (bindings) - cliff._core geometry functions over csrc/geometry.c.
 *
 * Each function computes in the precision of its first (main) argument: float32 (or float16)
 * -> float32, anything else real -> float64; the other arguments are converted to it. Shapes,
 * finiteness and positivity are checked here and reported naming the argument; broadcasting,
 * defaults and intrinsics parsing are done by cliff/camera.py. */
#include "pyutil.h"

#include <math.h>
#include <string.h>

/* Array of `typenum` with `ntrail` trailing dims `dims` (any leading dims), all finite. */
static PyArrayObject *arg_array(PyObject *obj, const char *name, int typenum, int ntrail,
                                const npy_intp *dims, const char *expect) {
    PyArrayObject *a = cliff_py_array_shape(obj, name, typenum, 1, ntrail, dims, expect);
    if (a && cliff_py_check_finite(a, name) < 0) Py_CLEAR(a);
    return a;
}

static void shape_text(PyArrayObject *a, int ndim, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %ld" : "%ld", (long)PyArray_DIM(a, i));
    if (off < n) snprintf(buf + off, n - off, ndim == 1 ? ",)" : ")");
}

/* The leading dims of `a` (all but `a_trail`) must equal those of `ref` (all but `ref_trail`). */
static int same_leading(PyArrayObject *ref, int ref_trail, const char *ref_name, PyArrayObject *a,
                        int a_trail, const char *name, const char *expect) {
    int nr = PyArray_NDIM(ref) - ref_trail, na = PyArray_NDIM(a) - a_trail;
    int ok = nr == na;
    for (int i = 0; ok && i < nr; i++) ok = PyArray_DIM(ref, i) == PyArray_DIM(a, i);
    if (ok) return 0;
    char want[160], got[160];
    shape_text(ref, nr, want, sizeof want);
    shape_text(a, PyArray_NDIM(a), got, sizeof got);
    PyErr_Format(PyExc_ValueError, "%s: expected shape %s with leading dims %s as in %s, got %s",
                 name, expect, want, ref_name, got);
    return -1;
}

/* ValueError naming `name` unless every element is > 0. */
static int check_positive(PyArrayObject *a, const char *name, const char *what) {
    npy_intp n = PyArray_SIZE(a);
    for (npy_intp i = 0; i < n; i++) {
        double v = PyArray_TYPE(a) == NPY_FLOAT32 ? ((const float *)PyArray_DATA(a))[i]
                                                 : ((const double *)PyArray_DATA(a))[i];
        if (!(v > 0)) {
            PyObject *val = PyFloat_FromDouble(v);
            if (val)
                PyErr_Format(PyExc_ValueError, "%s: expected %s > 0, got %R at flat index %zd",
                             name, what, val, (Py_ssize_t)i);
            Py_XDECREF(val);
            return -1;
        }
    }
    return 0;
}

#define F32(a) ((const float *)PyArray_DATA(a))
#define F64(a) ((const double *)PyArray_DATA(a))
#define W32(a) ((float *)PyArray_DATA(a))
#define W64(a) ((double *)PyArray_DATA(a))

static PyObject *py_rot6d_to_rotmat(PyObject *self, PyObject *x) {
    (void)self;
    int t = cliff_py_float_type(x, "x");
    if (t < 0) return NULL;
    static const npy_intp d6[] = {6}, d33[] = {3, 3};
    PyArrayObject *a = arg_array(x, "x", t, 1, d6, "(..., 6)");
    if (!a) return NULL;
    PyArrayObject *out = cliff_py_new_like_leading(a, 1, 2, d33, t);
    if (out) {
        size_t n = (size_t)cliff_py_leading(a, 1);
        Py_BEGIN_ALLOW_THREADS
        if (t == NPY_FLOAT32) cliff_rot6d_to_rotmat_f32(F32(a), n, W32(out));
        else cliff_rot6d_to_rotmat_f64(F64(a), n, W64(out));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(a);
    return (PyObject *)out;
}

static PyObject *py_rotmat_to_axis_angle(PyObject *self, PyObject *R) {
    (void)self;
    int t = cliff_py_float_type(R, "R");
    if (t < 0) return NULL;
    static const npy_intp d3[] = {3}, d33[] = {3, 3};
    PyArrayObject *a = arg_array(R, "R", t, 2, d33, "(..., 3, 3)");
    if (!a) return NULL;
    PyArrayObject *out = cliff_py_new_like_leading(a, 2, 1, d3, t);
    if (out) {
        size_t n = (size_t)cliff_py_leading(a, 2);
        Py_BEGIN_ALLOW_THREADS
        if (t == NPY_FLOAT32) cliff_rotmat_to_axis_angle_f32(F32(a), n, W32(out));
        else cliff_rotmat_to_axis_angle_f64(F64(a), n, W64(out));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(a);
    return (PyObject *)out;
}

static PyObject *py_axis_angle_to_rotmat(PyObject *self, PyObject *aa) {
    (void)self;
    int t = cliff_py_float_type(aa, "aa");
    if (t < 0) return NULL;
    static const npy_intp d3[] = {3}, d33[] = {3, 3};
    PyArrayObject *a = arg_array(aa, "aa", t, 1, d3, "(..., 3)");
    if (!a) return NULL;
    PyArrayObject *out = cliff_py_new_like_leading(a, 1, 2, d33, t);
    if (out) {
        size_t n = (size_t)cliff_py_leading(a, 1);
        Py_BEGIN_ALLOW_THREADS
        if (t == NPY_FLOAT32) cliff_axis_angle_to_rotmat_f32(F32(a), n, W32(out));
        else cliff_axis_angle_to_rotmat_f64(F64(a), n, W64(out));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(a);
    return (PyObject *)out;
}

static PyObject *py_boxes_to_center_scale(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xyxy;
    double rescale;
    if (!PyArg_ParseTuple(args, "Od:boxes_to_center_scale", &xyxy, &rescale)) return NULL;
    if (!(rescale > 0) || !isfinite(rescale)) {
        PyErr_Format(PyExc_ValueError, "rescale: expected a finite number > 0, got %R",
                     PyTuple_GET_ITEM(args, 1));
        return NULL;
    }
    int t = cliff_py_float_type(xyxy, "xyxy");
    if (t < 0) return NULL;
    static const npy_intp d4[] = {4}, d2[] = {2};
    PyArrayObject *a = arg_array(xyxy, "xyxy", t, 1, d4, "(..., 4) = [x1, y1, x2, y2]");
    if (!a) return NULL;
    size_t n = (size_t)cliff_py_leading(a, 1);
    for (size_t i = 0; i < n; i++) {
        double x1, y1, x2, y2;
        if (t == NPY_FLOAT32) x1 = F32(a)[4 * i], y1 = F32(a)[4 * i + 1], x2 = F32(a)[4 * i + 2], y2 = F32(a)[4 * i + 3];
        else x1 = F64(a)[4 * i], y1 = F64(a)[4 * i + 1], x2 = F64(a)[4 * i + 2], y2 = F64(a)[4 * i + 3];
        const char *bad = NULL;
        if (x2 < x1 || y2 < y1) bad = "x2 < x1 or y2 < y1 (expected corner form [x1, y1, x2, y2])";
        else if (x2 == x1 && y2 == y1) bad = "zero width and zero height";
        if (bad) {
            PyErr_Format(PyExc_ValueError, "xyxy: box %zd has %s", (Py_ssize_t)i, bad);
            Py_DECREF(a);
            return NULL;
        }
    }
    PyArrayObject *center = cliff_py_new_like_leading(a, 1, 1, d2, NPY_FLOAT64);
    PyArrayObject *scale = cliff_py_new_like_leading(a, 1, 0, NULL, NPY_FLOAT64);
    if (!center || !scale) {
        Py_XDECREF(center);
        Py_XDECREF(scale);
        Py_DECREF(a);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (t == NPY_FLOAT32) cliff_boxes_to_center_scale_f32in(F32(a), n, rescale, W64(center), W64(scale));
    else cliff_boxes_to_center_scale_f64(F64(a), n, rescale, W64(center), W64(scale));
    Py_END_ALLOW_THREADS
    Py_DECREF(a);
    return Py_BuildValue("(NN)", center, scale);
}

/* center (...,2), b (...), principal_point (...,2), focal (...), all of type t; packs the box
 * rows [cx, cy, b] the C API takes. Returns 0 and new references, or -1. */
typedef struct {
    PyArrayObject *center, *b, *pp, *focal, *box;
} box_args;

static void box_args_clear(box_args *ba) {
    Py_CLEAR(ba->center);
    Py_CLEAR(ba->b);
    Py_CLEAR(ba->pp);
    Py_CLEAR(ba->focal);
    Py_CLEAR(ba->box);
}

static int box_args_get(box_args *ba, PyObject *center, PyObject *b, PyObject *pp, PyObject *focal,
                        int t) {
    static const npy_intp d2[] = {2}, d3[] = {3};
    memset(ba, 0, sizeof *ba);
    if (!(ba->center = arg_array(center, "center", t, 1, d2, "(..., 2) = [cx, cy]"))) goto fail;
    if (!(ba->b = arg_array(b, "b", t, 0, NULL, "(...)"))) goto fail;
    if (same_leading(ba->center, 1, "center", ba->b, 0, "b", "(...)") < 0) goto fail;
    if (!(ba->pp = arg_array(pp, "principal_point", t, 1, d2, "(..., 2)"))) goto fail;
    if (same_leading(ba->center, 1, "center", ba->pp, 1, "principal_point", "(..., 2)") < 0) goto fail;
    if (!(ba->focal = arg_array(focal, "focal", t, 0, NULL, "(...)"))) goto fail;
    if (same_leading(ba->center, 1, "center", ba->focal, 0, "focal", "(...)") < 0) goto fail;
    if (check_positive(ba->b, "b", "box height b") < 0) goto fail;
    if (check_positive(ba->focal, "focal", "focal length") < 0) goto fail;
    if (!(ba->box = cliff_py_new_like_leading(ba->center, 1, 1, d3, t))) goto fail;
    npy_intp n = cliff_py_leading(ba->center, 1);
    for (npy_intp i = 0; i < n; i++) {
        if (t == NPY_FLOAT32) {
            float *o = W32(ba->box) + 3 * i;
            o[0] = F32(ba->center)[2 * i], o[1] = F32(ba->center)[2 * i + 1], o[2] = F32(ba->b)[i];
        } else {
            double *o = W64(ba->box) + 3 * i;
            o[0] = F64(ba->center)[2 * i], o[1] = F64(ba->center)[2 * i + 1], o[2] = F64(ba->b)[i];
        }
    }
    return 0;
fail:
    box_args_clear(ba);
    return -1;
}

static PyObject *py_bbox_info(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *center, *b, *pp, *focal;
    int form;
    if (!PyArg_ParseTuple(args, "OOOOi:bbox_info", &center, &b, &pp, &focal, &form)) return NULL;
    if (form != CLIFF_BBOX_RELEASED && form != CLIFF_BBOX_PAPER) {
        PyErr_Format(PyExc_ValueError, "form: expected %d (released) or %d (paper), got %d",
                     CLIFF_BBOX_RELEASED, CLIFF_BBOX_PAPER, form);
        return NULL;
    }
    int t = cliff_py_float_type(center, "center");
    if (t < 0) return NULL;
    box_args ba;
    if (box_args_get(&ba, center, b, pp, focal, t) < 0) return NULL;
    PyArrayObject *out = (PyArrayObject *)PyArray_NewLikeArray(ba.box, NPY_CORDER, NULL, 0);
    if (out) {
        size_t n = (size_t)cliff_py_leading(ba.center, 1);
        Py_BEGIN_ALLOW_THREADS
        if (t == NPY_FLOAT32) cliff_bbox_info_f32(F32(ba.box), F32(ba.pp), F32(ba.focal), n, (cliff_bbox_form)form, W32(out));
        else cliff_bbox_info_f64(F64(ba.box), F64(ba.pp), F64(ba.focal), n, (cliff_bbox_form)form, W64(out));
        Py_END_ALLOW_THREADS
    }
    box_args_clear(&ba);
    return (PyObject *)out;
}

static PyObject *py_cam_crop_to_full(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cam, *center, *b, *pp, *focal;
    if (!PyArg_ParseTuple(args, "OOOOO:cam_crop_to_full", &cam, &center, &b, &pp, &focal)) return NULL;
    int t = cliff_py_float_type(cam, "cam_crop");
    if (t < 0) return NULL;
    static const npy_intp d3[] = {3};
    PyArrayObject *c = arg_array(cam, "cam_crop", t, 1, d3, "(..., 3) = [s, tx, ty]");
    if (!c) return NULL;
    box_args ba;
    if (box_args_get(&ba, center, b, pp, focal, t) < 0) {
        Py_DECREF(c);
        return NULL;
    }
    PyArrayObject *out = NULL;
    if (same_leading(c, 1, "cam_crop", ba.center, 1, "center", "(..., 2)") == 0)
        out = (PyArrayObject *)PyArray_NewLikeArray(c, NPY_CORDER, NULL, 0);
    if (out) {
        size_t n = (size_t)cliff_py_leading(c, 1);
        Py_BEGIN_ALLOW_THREADS
        if (t == NPY_FLOAT32)
            cliff_cam_crop_to_full_f32(F32(c), F32(ba.box), F32(ba.pp), F32(ba.focal), n, W32(out));
        else
            cliff_cam_crop_to_full_f64(F64(c), F64(ba.box), F64(ba.pp), F64(ba.focal), n, W64(out));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(c);
    box_args_clear(&ba);
    return (PyObject *)out;
}

static PyObject *py_project_points(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *points, *fxfy, *pp;
    if (!PyArg_ParseTuple(args, "OOO:project_points", &points, &fxfy, &pp)) return NULL;
    int t = cliff_py_float_type(points, "points");
    if (t < 0) return NULL;
    static const npy_intp d2[] = {2}, d3[] = {3};
    PyArrayObject *p = arg_array(points, "points", t, 1, d3, "(..., 3)"), *f = NULL, *c = NULL,
                  *out = NULL;
    if (!p) return NULL;
    if (!(f = arg_array(fxfy, "focal", t, 1, d2, "(2,) or (..., 2) = [fx, fy]"))) goto done;
    if (!(c = arg_array(pp, "principal_point", t, 1, d2, "(2,) or (..., 2) = [cx, cy]"))) goto done;
    if (check_positive(f, "focal", "focal length") < 0) goto done;
    int each = PyArray_NDIM(f) > 1 || PyArray_NDIM(c) > 1;
    if (each && (same_leading(p, 1, "points", f, 1, "focal", "(..., 2)") < 0 ||
                 same_leading(p, 1, "points", c, 1, "principal_point", "(..., 2)") < 0))
        goto done;
    if (!(out = cliff_py_new_like_leading(p, 1, 1, d2, t))) goto done;
    size_t n = (size_t)cliff_py_leading(p, 1);
    Py_BEGIN_ALLOW_THREADS
    if (t == NPY_FLOAT32) {
        if (each) cliff_project_points_each_f32(F32(p), n, F32(f), F32(c), W32(out));
        else cliff_project_points_f32(F32(p), n, F32(f), F32(c), W32(out));
    } else {
        if (each) cliff_project_points_each_f64(F64(p), n, F64(f), F64(c), W64(out));
        else cliff_project_points_f64(F64(p), n, F64(f), F64(c), W64(out));
    }
    Py_END_ALLOW_THREADS
done:
    Py_DECREF(p);
    Py_XDECREF(f);
    Py_XDECREF(c);
    return (PyObject *)out;
}

static PyObject *py_estimate_focal_length(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *w, *h;
    if (!PyArg_ParseTuple(args, "OO:estimate_focal_length", &w, &h)) return NULL;
    PyArrayObject *aw = arg_array(w, "img_w", NPY_FLOAT64, 0, NULL, "(...)"), *ah = NULL,
                  *out = NULL;
    if (!aw) return NULL;
    if (!(ah = arg_array(h, "img_h", NPY_FLOAT64, 0, NULL, "(...)"))) goto done;
    if (same_leading(aw, 0, "img_w", ah, 0, "img_h", "(...)") < 0) goto done;
    if (check_positive(aw, "img_w", "image width") < 0 || check_positive(ah, "img_h", "image height") < 0)
        goto done;
    if (!(out = (PyArrayObject *)PyArray_NewLikeArray(aw, NPY_CORDER, NULL, 0))) goto done;
    npy_intp n = PyArray_SIZE(aw);
    for (npy_intp i = 0; i < n; i++) W64(out)[i] = cliff_estimate_focal_length(F64(aw)[i], F64(ah)[i]);
done:
    Py_DECREF(aw);
    Py_XDECREF(ah);
    return (PyObject *)out;
}

static PyMethodDef geometry_methods[] = {
    {"rot6d_to_rotmat", py_rot6d_to_rotmat, METH_O,
     "rot6d_to_rotmat(x) -> R. x (..., 6) -> (..., 3, 3), official 6D convention."},
    {"rotmat_to_axis_angle", py_rotmat_to_axis_angle, METH_O,
     "rotmat_to_axis_angle(R) -> aa. (..., 3, 3) -> (..., 3) radians, torchgeometry 0.1.2 numbers."},
    {"axis_angle_to_rotmat", py_axis_angle_to_rotmat, METH_O,
     "axis_angle_to_rotmat(aa) -> R. (..., 3) radians -> (..., 3, 3), Rodrigues."},
    {"boxes_to_center_scale", py_boxes_to_center_scale, METH_VARARGS,
     "boxes_to_center_scale(xyxy, rescale) -> (center (..., 2), scale (...)), float64."},
    {"bbox_info", py_bbox_info, METH_VARARGS,
     "bbox_info(center, b, principal_point, focal, form) -> (..., 3). Same leading dims."},
    {"cam_crop_to_full", py_cam_crop_to_full, METH_VARARGS,
     "cam_crop_to_full(cam_crop, center, b, principal_point, focal) -> (..., 3) metres."},
    {"project_points", py_project_points, METH_VARARGS,
     "project_points(points, fxfy, principal_point) -> (..., 2) pixels; fxfy/pp (2,) or (..., 2)."},
    {"estimate_focal_length", py_estimate_focal_length, METH_VARARGS,
     "estimate_focal_length(img_w, img_h) -> sqrt(w^2 + h^2), float64 array of the same shape."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_geometry_init(PyObject *m) { return PyModule_AddFunctions(m, geometry_methods); }
