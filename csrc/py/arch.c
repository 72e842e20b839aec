/* arch.c (bindings) - the model facts the core holds, for cliff/model.py, cliff/constants.py,
 * cliff/_standin.py and the fine-tuner: the backbones' checkpoint keys and shapes (from the
 * layer tables), the regressor sizes, and the collapsed regressor of checkpoint arrays. */
#include "pyutil.h"

static PyObject *py_net_arch_keys(PyObject *mod, PyObject *arg) {
    (void)mod;
    const char *backbone = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!backbone) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "backbone: expected a str, got %s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const cliff_arch_key *keys;
    size_t n;
    cliff_status st = cliff_net_arch_keys(backbone, &keys, &n);
    if (st) return cliff_py_raise(st);
    return cliff_py_arch_key_list(keys, n);
}

static PyObject *py_net_facts(PyObject *mod, PyObject *noargs) {
    (void)mod;
    (void)noargs;
    PyObject *names = PyTuple_New(0);
    for (size_t i = 0; names && cliff_net_backbone_name(i); i++) {
        PyObject *s = PyUnicode_FromString(cliff_net_backbone_name(i));
        if (!s || _PyTuple_Resize(&names, (Py_ssize_t)i + 1) < 0) {
            Py_XDECREF(s);
            Py_XDECREF(names);
            return NULL;
        }
        PyTuple_SET_ITEM(names, (Py_ssize_t)i, s);
    }
    if (!names) return NULL;
    return Py_BuildValue("{s:N,s:i,s:i,s:i,s:i,s:i,s:i}", "backbones", names, "features", CLIFF_FEATURES,
                         "pose6d", CLIFF_NET_POSE6D, "betas", CLIFF_NET_BETAS, "cam", CLIFF_NET_CAM,
                         "state", CLIFF_NET_STATE, "regressor_input", CLIFF_NET_REGRESSOR_INPUT);
}

/* {'Mx': (157, 2051), 'Ms': (157, 157), 'c': (157,), 'init': (157,)} float64, new arrays. */
PyObject *cliff_py_regressor_dict(PyArrayObject **out) {
    return Py_BuildValue("{s:N,s:N,s:N,s:N}", "Mx", out[0], "Ms", out[1], "c", out[2], "init", out[3]);
}

int cliff_py_regressor_arrays(PyArrayObject **out) {
    return cliff_py_regressor_arrays_sized(out, CLIFF_NET_STATE, CLIFF_NET_REGRESSOR_INPUT);
}

int cliff_py_regressor_arrays_sized(PyArrayObject **out, npy_intp ns, npy_intp nx) {
    const npy_intp dx[2] = {ns, nx}, ds[2] = {ns, ns}, dv[1] = {ns};
    out[0] = (PyArrayObject *)PyArray_SimpleNew(2, dx, NPY_FLOAT64);
    out[1] = (PyArrayObject *)PyArray_SimpleNew(2, ds, NPY_FLOAT64);
    out[2] = (PyArrayObject *)PyArray_SimpleNew(1, dv, NPY_FLOAT64);
    out[3] = (PyArrayObject *)PyArray_SimpleNew(1, dv, NPY_FLOAT64);
    if (out[0] && out[1] && out[2] && out[3]) return 0;
    for (int i = 0; i < 4; i++) Py_CLEAR(out[i]);
    return -1;
}

static PyObject *py_regressor_collapse(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *names, *arrays;
    if (!PyArg_ParseTuple(args, "OO:regressor_collapse", &names, &arrays)) return NULL;
    PyObject *nseq, *keep, *result = NULL;
    cliff_array *ca;
    Py_ssize_t m;
    PyArrayObject *out[4] = {NULL};
    if (cliff_py_checkpoint_arrays(names, arrays, &nseq, &keep, &ca, &m) < 0) return NULL;
    if (cliff_py_regressor_arrays(out) < 0) goto done;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_regressor_collapse(ca, (size_t)m, PyArray_DATA(out[0]), PyArray_DATA(out[1]),
                                  PyArray_DATA(out[2]), PyArray_DATA(out[3]));
    Py_END_ALLOW_THREADS
    if (st) {
        cliff_py_raise(st);
        for (int i = 0; i < 4; i++) Py_CLEAR(out[i]);
        goto done;
    }
    result = cliff_py_regressor_dict(out);
done:
    PyMem_Free(ca);
    Py_DECREF(keep);
    Py_DECREF(nseq);
    return result;
}

/* The family table of the core (cliff_family_get), as a tuple of dicts. */
static PyObject *py_families(PyObject *mod, PyObject *noargs) {
    (void)mod;
    (void)noargs;
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out && cliff_family_get(i); i++) {
        const cliff_family *f = cliff_family_get(i);
        PyObject *d = Py_BuildValue(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:(ii),s:s,s:i,s:i,s:i,s:s,s:O,s:s,s:d}", "name", f->name, "backbone", f->backbone,
            "trunk", f->trunk, "key_prefix", f->key_prefix, "ignored", f->ignored, "release", f->release,
            "crop", f->crop_height, f->crop_width, "bbox_info", f->bbox_info == CLIFF_BBOX_PAPER ? "paper" : "released",
            "features", f->features, "joints", f->joints, "betas", f->betas,
            "body", f->body == CLIFF_BODY_SMPLX ? "smplx" : "smpl", "lightning", f->lightning ? Py_True : Py_False,
            "crop_window", f->crop_window == CLIFF_WINDOW_SQUARE ? "square" : f->crop_window == CLIFF_WINDOW_AFFINE ? "affine" : "cliff", "box_rescale", f->box_rescale);
        if (!d || PyList_Append(out, d) < 0) {
            Py_XDECREF(d);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(d);
    }
    if (!out) return NULL;
    PyObject *t = PyList_AsTuple(out);
    Py_DECREF(out);
    return t;
}

static PyMethodDef arch_functions[] = {
    {"families", py_families, METH_NOARGS,
     "families() -> tuple of dicts: the core's table of CLIFF network families (docs/models.md)."},
    {"net_arch_keys", py_net_arch_keys, METH_O,
     "net_arch_keys(backbone) -> [(key, shape tuple, dtype name)] in state_dict order."},
    {"net_facts", py_net_facts, METH_NOARGS,
     "net_facts() -> dict: backbone names and the regressor sizes of the core."},
    {"regressor_collapse", py_regressor_collapse, METH_VARARGS,
     "regressor_collapse(names, arrays) -> {'Mx', 'Ms', 'c', 'init'} float64 (the collapsed "
     "regressor of the checkpoint arrays)."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_arch_init(PyObject *m) { return PyModule_AddFunctions(m, arch_functions); }
