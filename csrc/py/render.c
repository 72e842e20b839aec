/* render.c (bindings) - cliff._core.render: argument conversion around cliff_render. */
#include "pyutil.h"

/* New reference to an array-like's data as an array (no conversion), or NULL with TypeError. */
static PyArrayObject *probe(PyObject *obj, const char *name) {
    PyObject *a = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!a) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected an array, got %.80s", name,
                     Py_TYPE(obj)->tp_name);
    }
    return (PyArrayObject *)a;
}

static PyObject *py_render(PyObject *self, PyObject *args, PyObject *kwds) {
    (void)self;
    static char *kwlist[] = {"image", "vertices", "faces", "fxfy", "pp", "colors", "alpha",
                             "side_view", NULL};
    PyObject *image_o, *verts_o, *faces_o, *colors_o;
    float fxfy[2], pp[2], alpha;
    int side_view;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO(ff)(ff)Ofp:render", kwlist, &image_o,
                                     &verts_o, &faces_o, &fxfy[0], &fxfy[1], &pp[0], &pp[1],
                                     &colors_o, &alpha, &side_view))
        return NULL;

    PyArrayObject *image = NULL, *verts = NULL, *faces = NULL, *colors = NULL, *p = NULL;
    PyObject *result = NULL;

    /* image: uint8 (H, W, 3); the output is a fresh copy drawn into */
    if (!(p = probe(image_o, "image"))) goto fail;
    if (PyArray_TYPE(p) != NPY_UINT8) {
        PyErr_Format(PyExc_TypeError, "image: expected a uint8 RGB array, got dtype %s",
                     PyArray_DESCR(p)->typeobj->tp_name);
        goto fail;
    }
    if (PyArray_NDIM(p) != 3 || PyArray_DIM(p, 2) != 3) {
        PyErr_Format(PyExc_ValueError, "image: expected shape (H, W, 3), got %d dimensions%s",
                     PyArray_NDIM(p), PyArray_NDIM(p) == 3 ? " with a last axis other than 3" : "");
        goto fail;
    }
    /* sizes before any buffer exists: the copy below is the output canvas */
    if (PyArray_DIM(p, 0) > CLIFF_RENDER_MAX_SIDE || PyArray_DIM(p, 1) > CLIFF_RENDER_MAX_SIDE ||
        PyArray_DIM(p, 0) < 1 || PyArray_DIM(p, 1) < 1) {
        PyErr_Format(PyExc_ValueError, "image: expected 1..%d pixels per side, got %ld x %ld",
                     CLIFF_RENDER_MAX_SIDE, (long)PyArray_DIM(p, 0), (long)PyArray_DIM(p, 1));
        goto fail;
    }
    {
        PyArrayObject *vp = probe(verts_o, "vertices");
        if (!vp) goto fail;
        npy_intp meshes = PyArray_NDIM(vp) == 3 ? PyArray_DIM(vp, 0) : 1;
        Py_DECREF(vp);
        if (meshes > CLIFF_RENDER_MAX_MESHES) {
            PyErr_Format(PyExc_ValueError, "vertices: at most %d meshes, got %ld",
                         CLIFF_RENDER_MAX_MESHES, (long)meshes);
            goto fail;
        }
    }

    const npy_intp vdims[3] = {-1, -1, 3};
    verts = cliff_py_array_shape(verts_o, "vertices", NPY_FLOAT32, 0, 3, vdims, "(P, V, 3)");
    if (!verts || cliff_py_check_finite(verts, "vertices") < 0) goto fail;

    {
        PyArrayObject *fp = probe(faces_o, "faces");
        if (!fp) goto fail;
        const char kind = PyArray_DESCR(fp)->kind;
        if (kind != 'i' && kind != 'u') {
            PyErr_Format(PyExc_TypeError, "faces: expected an integer array of vertex indices, "
                                          "got dtype %s", PyArray_DESCR(fp)->typeobj->tp_name);
            Py_DECREF(fp);
            goto fail;
        }
        Py_DECREF(fp);
    }
    const npy_intp fdims[2] = {-1, 3};
    faces = cliff_py_array_shape(faces_o, "faces", NPY_INT64, 0, 2, fdims, "(F, 3)");
    if (!faces) goto fail;

    const npy_intp cdims[2] = {PyArray_DIM(verts, 0), 3};
    colors = cliff_py_array_shape(colors_o, "colors", NPY_FLOAT32, 0, 2, cdims, "(P, 3)");
    if (!colors) goto fail;

    image = (PyArrayObject *)PyArray_FromAny((PyObject *)p, PyArray_DescrFromType(NPY_UINT8), 3, 3,
                                             NPY_ARRAY_DEFAULT | NPY_ARRAY_ENSURECOPY, NULL);
    Py_CLEAR(p);
    if (!image) goto fail;

    cliff_render_params params = cliff_render_default_params();
    memcpy(params.fxfy, fxfy, sizeof fxfy);
    memcpy(params.pp, pp, sizeof pp);
    params.colors = (const float *)PyArray_DATA(colors);
    params.alpha = alpha;
    params.view = side_view ? CLIFF_RENDER_SIDE : CLIFF_RENDER_FRONT;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_render((uint8_t *)PyArray_DATA(image), (size_t)PyArray_DIM(image, 0),
                      (size_t)PyArray_DIM(image, 1), (const float *)PyArray_DATA(verts),
                      (size_t)PyArray_DIM(verts, 0), (size_t)PyArray_DIM(verts, 1),
                      (const int64_t *)PyArray_DATA(faces), (size_t)PyArray_DIM(faces, 0),
                      &params);
    Py_END_ALLOW_THREADS
    if (st != CLIFF_OK) {
        cliff_py_raise(st);
        goto fail;
    }
    result = (PyObject *)image;
    image = NULL;

fail:
    Py_XDECREF(p);
    Py_XDECREF(image);
    Py_XDECREF(verts);
    Py_XDECREF(faces);
    Py_XDECREF(colors);
    return result;
}

static PyMethodDef render_methods[] = {
    {"render", (PyCFunction)(void (*)(void))py_render, METH_VARARGS | METH_KEYWORDS,
     "render(image, vertices, faces, fxfy, pp, colors, alpha, side_view) -> (H, W, 3) uint8.\n"
     "image (H, W, 3) uint8 RGB (copied); vertices (P, V, 3) metres, camera frame; faces (F, 3)\n"
     "int; fxfy, pp (2,) pixels; colors (P, 3) in [0, 1]; alpha in [0, 1]. See cliff.render."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_render_init(PyObject *m) { return PyModule_AddFunctions(m, render_methods); }
