/* model.c - the cliff._core.Model heap type: a cliff_net plus the geometry around it
 * (bbox_info before the regressor; 6D -> rotmat, axis-angle, crop -> full camera after).
 * Arguments arrive validated and broadcast by cliff/model.py; shapes are re-checked here so
 * that no call can crash. The GIL is released for all C work. */
#include "pyutil.h"

typedef struct {
    PyObject_HEAD
    cliff_net *net;
    int active;  /* calls running with the GIL released */
    int closing; /* close() requested while active: the last call frees */
} ModelObject;

static int acquire(ModelObject *self) {
    if (!self->net || self->closing) {
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return -1;
    }
    self->active++;
    return 0;
}

static void release(ModelObject *self) {
    if (--self->active == 0 && self->closing) {
        cliff_net_free(self->net);
        self->net = NULL;
    }
}

cliff_net *cliff_py_model_acquire(PyObject *model) {
    ModelObject *self = (ModelObject *)model;
    return acquire(self) ? NULL : self->net;
}

void cliff_py_model_release(PyObject *model) { release((ModelObject *)model); }

/* Drop our references to array `index` (and the caller's list slot when consuming) as soon as
 * the engine has packed it. Called from C with the GIL released. */
typedef struct {
    PyObject *keep;   /* list of converted arrays */
    PyObject *source; /* the caller's list when consume=True, else NULL */
} release_ctx;

static void release_array(void *ctx, size_t index) {
    release_ctx *rc = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_ssize_t i = (Py_ssize_t)index;
    if (i < PyList_GET_SIZE(rc->keep) && PyList_GET_ITEM(rc->keep, i) != Py_None) {
        Py_INCREF(Py_None);
        PyList_SetItem(rc->keep, i, Py_None);
        if (rc->source && i < PyList_GET_SIZE(rc->source)) {
            Py_INCREF(Py_None);
            PyList_SetItem(rc->source, i, Py_None);
        }
    }
    PyGILState_Release(g);
}

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"backbone", "precision", "names", "arrays", "consume", "conv", "streams", NULL};
    const char *backbone, *precision, *conv = NULL;
    PyObject *names, *arrays;
    int consume = 0, streams = CLIFF_STREAMS_FROM_ENV;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOO|pzi:Model", kwlist, &backbone, &precision, &names,
                                     &arrays, &consume, &conv, &streams))
        return NULL;
    cliff_net_params params = cliff_net_default_params();
    params.streams = streams; /* checked by cliff_net_create_with_params */
    if (conv) {
        static const char *algos[] = {"auto", "direct", "winograd2", "winograd4", "timed"};
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(conv, algos[i]) == 0) found = i;
        if (found < 0)
            return PyErr_Format(PyExc_ValueError,
                                "conv: expected 'auto', 'direct', 'winograd2', 'winograd4', 'timed' or None, got '%s'", conv);
        params.conv = (cliff_conv_algo)found; /* CLIFF_CONV_AUTO .. CLIFF_CONV_TIMED in this order */
    }
    cliff_precision prec;
    if (strcmp(precision, "fp32") == 0)
        prec = CLIFF_PRECISION_FP32;
    else if (strcmp(precision, "bf16") == 0)
        prec = CLIFF_PRECISION_BF16;
    else
        return PyErr_Format(PyExc_ValueError, "precision: expected 'fp32' or 'bf16', got '%s'", precision);
    PyObject *nseq, *keep;
    cliff_array *ca;
    Py_ssize_t n;
    if (cliff_py_checkpoint_arrays(names, arrays, &nseq, &keep, &ca, &n) < 0) return NULL;
    ModelObject *self = NULL;
    cliff_net *net = NULL;
    cliff_status st;
    release_ctx rc = {keep, consume && PyList_Check(arrays) ? arrays : NULL};
    Py_BEGIN_ALLOW_THREADS
    st = cliff_net_create_with_params(backbone, prec, ca, (size_t)n, release_array, &rc, &params, &net);
    Py_END_ALLOW_THREADS
    if (st) {
        cliff_py_raise(st);
        goto done;
    }
    self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) {
        cliff_net_free(net);
        goto done;
    }
    self->net = net;
done:
    PyMem_Free(ca);
    Py_DECREF(keep);
    Py_DECREF(nseq);
    return (PyObject *)self;
}

static void Model_dealloc(ModelObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    cliff_net_free(self->net); /* no call can be active: each holds a reference */
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *Model_close(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    if (self->active)
        self->closing = 1;
    else {
        cliff_net_free(self->net);
        self->net = NULL;
    }
    Py_RETURN_NONE;
}

/* crops -> (array, layout, n) with the shape checked. */
static PyArrayObject *get_crops(PyObject *obj, cliff_layout *layout, const cliff_net_dims *d) {
    PyObject *probe = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!probe) return NULL;
    int is_u8 = PyArray_TYPE((PyArrayObject *)probe) == NPY_UINT8;
    Py_DECREF(probe);
    const npy_intp H = d->crop_height, W = d->crop_width;
    const npy_intp f32dims[4] = {-1, 3, H, W}, u8dims[4] = {-1, H, W, 3};
    char what[64];
    *layout = is_u8 ? CLIFF_LAYOUT_NHWC_U8 : CLIFF_LAYOUT_NCHW_F32;
    if (is_u8) {
        snprintf(what, sizeof what, "(N, %d, %d, 3) uint8", (int)H, (int)W);
        return cliff_py_array_shape(obj, "crops", NPY_UINT8, 0, 4, u8dims, what);
    }
    snprintf(what, sizeof what, "(N, 3, %d, %d) float32", (int)H, (int)W);
    return cliff_py_array_shape(obj, "crops", NPY_FLOAT32, 0, 4, f32dims, what);
}

/* The sizes of an open model's network (ValueError when closed). */
static int model_dims(ModelObject *self, cliff_net_dims *d) {
    if (!self->net || self->closing) {
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return -1;
    }
    cliff_net_get_dims(self->net, d);
    return 0;
}

static PyObject *Model_features(ModelObject *self, PyObject *arg) {
    cliff_layout layout;
    cliff_net_dims d;
    if (model_dims(self, &d)) return NULL;
    PyArrayObject *crops = get_crops(arg, &layout, &d);
    if (!crops) return NULL;
    npy_intp n = PyArray_DIM(crops, 0), dims[2] = {n, d.features};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out || acquire(self)) {
        Py_DECREF(crops);
        Py_XDECREF(out);
        return NULL;
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_net_run(self->net, PyArray_DATA(crops), layout, (size_t)n, NULL, 0,
                       (float *)PyArray_DATA(out), NULL, NULL, NULL);
    Py_END_ALLOW_THREADS
    release(self);
    Py_DECREF(crops);
    if (st) {
        Py_DECREF(out);
        return cliff_py_raise(st);
    }
    return (PyObject *)out;
}

static PyObject *Model_predict(ModelObject *self, PyObject *args) {
    PyObject *ocrops, *oboxes, *opp, *ofocal;
    int n_iter;
    if (!PyArg_ParseTuple(args, "OOOOi:predict", &ocrops, &oboxes, &opp, &ofocal, &n_iter)) return NULL;
    cliff_layout layout;
    cliff_net_dims d;
    if (model_dims(self, &d)) return NULL;
    if (!d.pose6d) return PyErr_Format(PyExc_ValueError, "this network (a bare trunk) has no regressor");
    const npy_intp J = d.pose6d / 6;
    PyArrayObject *crops = get_crops(ocrops, &layout, &d), *boxes = NULL, *pp = NULL, *focal = NULL;
    PyArrayObject *o[8] = {NULL};
    PyObject *res = NULL;
    if (!crops) return NULL;
    npy_intp n = PyArray_DIM(crops, 0);
    npy_intp d3[1] = {n}, d2[2] = {n, 3}, dpp[2] = {n, 2};
    if (!(boxes = cliff_py_array_shape(oboxes, "boxes", NPY_FLOAT32, 0, 2, d2, "(N, 3)")) ||
        !(pp = cliff_py_array_shape(opp, "principal_point", NPY_FLOAT32, 0, 2, dpp, "(N, 2)")) ||
        !(focal = cliff_py_array_shape(ofocal, "focal", NPY_FLOAT32, 0, 1, d3, "(N,)")))
        goto done;
    if (n_iter < 0 || n_iter > 100) {
        PyErr_Format(PyExc_ValueError, "n_iter: expected 0..100, got %d", n_iter);
        goto done;
    }
    /* rotmat, pose, betas, cam_crop, t_full, bbox_info, pose6d, features */
    npy_intp shp[8][4] = {{n, J, 3, 3}, {n, 3 * J}, {n, d.betas}, {n, 3}, {n, 3}, {n, 3}, {n, 6 * J}, {n, d.features}};
    int nd[8] = {4, 2, 2, 2, 2, 2, 2, 2};
    for (int i = 0; i < 8; i++)
        if (!(o[i] = (PyArrayObject *)PyArray_SimpleNew(nd[i], shp[i], NPY_FLOAT32))) goto done;
    if (acquire(self)) goto done;
    cliff_status st;
#define F(a) ((float *)PyArray_DATA(a))
    Py_BEGIN_ALLOW_THREADS
    cliff_bbox_info_f32(F(boxes), F(pp), F(focal), (size_t)n, d.bbox_info, F(o[5]));
    st = cliff_net_run(self->net, PyArray_DATA(crops), layout, (size_t)n, F(o[5]), (size_t)n_iter, F(o[7]),
                       F(o[6]), F(o[2]), F(o[3]));
    if (!st) {
        cliff_rot6d_to_rotmat_f32(F(o[6]), (size_t)n * J, F(o[0]));
        cliff_rotmat_to_axis_angle_f32(F(o[0]), (size_t)n * J, F(o[1]));
        cliff_cam_crop_to_full_f32(F(o[3]), F(boxes), F(pp), F(focal), (size_t)n, F(o[4]));
    }
    Py_END_ALLOW_THREADS
#undef F
    release(self);
    if (st) {
        cliff_py_raise(st);
        goto done;
    }
    res = Py_BuildValue("{sOsOsOsOsOsOsOsO}", "rotmat", o[0], "pose", o[1], "betas", o[2], "cam_crop", o[3],
                        "t_full", o[4], "bbox_info", o[5], "focal", focal, "features", o[7]);
done:
    Py_XDECREF(crops);
    Py_XDECREF(boxes);
    Py_XDECREF(pp);
    Py_XDECREF(focal);
    for (int i = 0; i < 8; i++) Py_XDECREF(o[i]);
    return res;
}

/* A list with one item per layer of the table, item(net, i) a new reference (NULL: error set). */
static PyObject *per_layer_list(ModelObject *self, PyObject *(*item)(const cliff_net *, size_t)) {
    if (acquire(self)) return NULL;
    Py_ssize_t nl = (Py_ssize_t)cliff_net_num_layers(self->net);
    PyObject *list = PyList_New(nl);
    for (Py_ssize_t i = 0; list && i < nl; i++) {
        PyObject *v = item(self->net, (size_t)i);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, v);
    }
    release(self);
    return list;
}

static PyObject *layer_tuple(const cliff_net *net, size_t i) {
    const char *name, *kind, *impl;
    cliff_net_layer(net, i, &name, &kind, &impl);
    return Py_BuildValue("(sss)", name, kind, impl);
}

static PyObject *layer_macs(const cliff_net *net, size_t i) {
    return PyLong_FromUnsignedLongLong((unsigned long long)cliff_net_layer_macs(net, i));
}

static PyObject *Model_layers(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    return per_layer_list(self, layer_tuple);
}

static PyObject *Model_layer_macs(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    return per_layer_list(self, layer_macs);
}

static PyObject *Model_profile(ModelObject *self, PyObject *args) {
    Py_ssize_t n;
    int reps;
    if (!PyArg_ParseTuple(args, "ni:profile", &n, &reps)) return NULL;
    if (n < 1 || n > 8) return PyErr_Format(PyExc_ValueError, "n: expected 1..8, got %zd", n);
    if (reps < 1) return PyErr_Format(PyExc_ValueError, "reps: expected >= 1, got %d", reps);
    if (acquire(self)) return NULL;
    Py_ssize_t nl = (Py_ssize_t)cliff_net_num_layers(self->net);
    double *ms = PyMem_Calloc(nl, sizeof(double));
    if (!ms) {
        release(self);
        return PyErr_NoMemory();
    }
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_net_profile(self->net, (size_t)n, (size_t)reps, ms);
    Py_END_ALLOW_THREADS
    release(self);
    PyObject *list = NULL;
    if (st)
        cliff_py_raise(st);
    else if ((list = PyList_New(nl)))
        for (Py_ssize_t i = 0; i < nl; i++) {
            PyObject *v = PyFloat_FromDouble(ms[i]);
            if (!v) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, i, v);
        }
    PyMem_Free(ms);
    return list;
}

static PyObject *Model_get_closed(ModelObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(!self->net || self->closing);
}

static PyObject *Model_get_threads(ModelObject *self, void *closure) {
    (void)closure;
    if (acquire(self)) return NULL;
    int n = cliff_net_get_num_threads(self->net);
    release(self);
    return PyLong_FromLong(n);
}

/* The batch size argument n of streams() / branch_streams(): >= 1, or -1 with an error set. */
static Py_ssize_t batch_size_arg(PyObject *arg) {
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) return -1;
    if (n < 1) {
        PyErr_Format(PyExc_ValueError, "n: expected a batch size >= 1, got %zd", n);
        return -1;
    }
    return n;
}

static PyObject *Model_streams(ModelObject *self, PyObject *arg) {
    Py_ssize_t n = batch_size_arg(arg);
    if (n < 0 || acquire(self)) return NULL;
    int g = cliff_net_streams(self->net, (size_t)n);
    release(self);
    return PyLong_FromLong(g);
}

static PyObject *Model_branch_streams(ModelObject *self, PyObject *arg) {
    Py_ssize_t n = batch_size_arg(arg);
    if (n < 0 || acquire(self)) return NULL;
    int on = cliff_net_branch_streams(self->net, (size_t)n);
    release(self);
    return PyBool_FromLong(on);
}

static int Model_set_threads(ModelObject *self, PyObject *value, void *closure) {
    (void)closure;
    int n;
    if (cliff_py_thread_count(value, "threads", "process-wide count", &n) < 0) return -1;
    if (acquire(self)) return -1;
    cliff_net_set_num_threads(self->net, n);
    release(self);
    return 0;
}

static PyObject *Model_get_weight_bytes(ModelObject *self, void *closure) {
    (void)closure;
    if (acquire(self)) return NULL;
    size_t b = cliff_net_weight_bytes(self->net);
    release(self);
    return PyLong_FromSize_t(b);
}

static PyObject *Model_get_work_bytes(ModelObject *self, void *closure) {
    (void)closure;
    if (acquire(self)) return NULL;
    size_t b = cliff_net_work_bytes(self->net);
    release(self);
    return PyLong_FromSize_t(b);
}

static PyObject *Model_regressor(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    PyArrayObject *out[4];
    cliff_net_dims d;
    if (model_dims(self, &d)) return NULL;
    if (!d.pose6d) return PyErr_Format(PyExc_ValueError, "this network (a bare trunk) has no regressor");
    if (cliff_py_regressor_arrays_sized(out, d.pose6d + d.betas + d.cam, d.features + 3) < 0) return NULL;
    if (acquire(self)) {
        for (int i = 0; i < 4; i++) Py_DECREF(out[i]);
        return NULL;
    }
    cliff_status st = cliff_net_regressor(self->net, PyArray_DATA(out[0]), PyArray_DATA(out[1]),
                                          PyArray_DATA(out[2]), PyArray_DATA(out[3]));
    release(self);
    if (st) {
        for (int i = 0; i < 4; i++) Py_DECREF(out[i]);
        return cliff_py_raise(st);
    }
    return cliff_py_regressor_dict(out);
}

static PyMethodDef Model_methods[] = {
    {"predict", (PyCFunction)Model_predict, METH_VARARGS,
     "predict(crops, boxes, principal_point, focal, n_iter) -> dict (validated by cliff.Model)."},
    {"features", (PyCFunction)Model_features, METH_O, "features(crops) -> (N, 2048) float32."},
    {"layers", (PyCFunction)Model_layers, METH_NOARGS, "layers() -> [(name, kind, impl)]."},
    {"layer_macs", (PyCFunction)Model_layer_macs, METH_NOARGS, "layer_macs() -> [multiply-adds per image]."},
    {"profile", (PyCFunction)Model_profile, METH_VARARGS,
     "profile(n, reps) -> [median ms per layer], each primitive timed alone."},
    {"close", (PyCFunction)Model_close, METH_NOARGS, "close() -> None. Frees the network."},
    {"streams", (PyCFunction)Model_streams, METH_O,
     "streams(n) -> thread groups a batch of n crops runs as (1 = not split)."},
    {"branch_streams", (PyCFunction)Model_branch_streams, METH_O,
     "branch_streams(n) -> whether a batch of n crops runs HRNet's branches as thread groups."},
    {"regressor", (PyCFunction)Model_regressor, METH_NOARGS,
     "regressor() -> {'Mx', 'Ms', 'c', 'init'} float64: the collapsed regressor."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"closed", (getter)Model_get_closed, NULL, "True after close().", NULL},
    {"weight_bytes", (getter)Model_get_weight_bytes, NULL, "Bytes of packed weights.", NULL},
    {"threads", (getter)Model_get_threads, (setter)Model_set_threads,
     "Threads of this network's calls (set 0 to follow set_num_threads).", NULL},
    {"work_bytes", (getter)Model_get_work_bytes, NULL, "Bytes of activation arenas + scratchpads.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Model_slots[] = {
    {Py_tp_new, Model_new},
    {Py_tp_dealloc, Model_dealloc},
    {Py_tp_methods, Model_methods},
    {Py_tp_getset, Model_getset},
    {Py_tp_doc, "Model(backbone, precision, names, arrays): CLIFF network on oneDNN (use cliff.load_model)."},
    {0, NULL},
};

static PyType_Spec Model_spec = {
    .name = "cliff._core.Model",
    .basicsize = sizeof(ModelObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Model_slots,
};

int cliff_py_model_init(PyObject *m) {
    PyObject *t = PyType_FromModuleAndSpec(m, &Model_spec, NULL);
    if (!t) return -1;
    cliff_py_state(m)->model_type = (PyTypeObject *)t; /* the state owns the reference */
    return PyModule_AddObjectRef(m, "Model", t);
}
