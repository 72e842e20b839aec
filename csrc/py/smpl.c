/* smpl.c (bindings) - the heap type cliff._core.SMPL over cliff_smpl: model arrays in,
 * forward(rotmat | pose, betas, transl, vertices) -> dict of float32 arrays. Arguments are
 * checked here (shapes, batch sizes, finiteness) so that the core only sees valid input. */
#include "pyutil.h"

typedef struct {
    PyObject_HEAD
    cliff_smpl *model;
} SMPLObject;

cliff_smpl *cliff_py_smpl_handle(PyObject *smpl) { return ((SMPLObject *)smpl)->model; }

static void smpl_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    cliff_smpl_free(((SMPLObject *)self)->model);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* float64 array of exactly `ndim` dims `dims` (-1 = any), finite. */
static PyArrayObject *model_array(PyObject *obj, const char *name, int ndim, const npy_intp *dims,
                                  const char *expect) {
    PyArrayObject *a = cliff_py_array_shape(obj, name, NPY_FLOAT64, 0, ndim, dims, expect);
    if (a && cliff_py_check_finite(a, name) < 0) Py_CLEAR(a);
    return a;
}

static PyObject *smpl_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights",
                             "parents", NULL};
    PyObject *o[6];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO:SMPL", kwlist, &o[0], &o[1], &o[2],
                                     &o[3], &o[4], &o[5]))
        return NULL;
    const npy_intp V = CLIFF_SMPL_NUM_VERTICES, J = CLIFF_SMPL_NUM_JOINTS;
    const npy_intp d_vt[] = {V, 3}, d_sd[] = {V, 3, -1}, d_pd[] = {V, 3, CLIFF_SMPL_NUM_POSE_FEATURES},
                   d_jr[] = {J, V}, d_w[] = {V, J}, d_p[] = {J};
    PyArrayObject *a[6] = {NULL};
    PyObject *result = NULL;
    if (!(a[0] = model_array(o[0], "v_template", 2, d_vt, "(6890, 3)"))) goto done;
    if (!(a[1] = model_array(o[1], "shapedirs", 3, d_sd, "(6890, 3, num_betas)"))) goto done;
    if (!(a[2] = model_array(o[2], "posedirs", 3, d_pd, "(6890, 3, 207)"))) goto done;
    if (!(a[3] = model_array(o[3], "J_regressor", 2, d_jr, "(24, 6890) dense"))) goto done;
    if (!(a[4] = model_array(o[4], "weights", 2, d_w, "(6890, 24)"))) goto done;
    if (!(a[5] = cliff_py_array_shape(o[5], "parents", NPY_INT64, 0, 1, d_p, "(24,)"))) goto done;
    cliff_smpl *model = NULL;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_smpl_create(PyArray_DATA(a[0]), PyArray_DATA(a[1]), (size_t)PyArray_DIM(a[1], 2),
                           PyArray_DATA(a[2]), PyArray_DATA(a[3]), PyArray_DATA(a[4]),
                           PyArray_DATA(a[5]), &model);
    Py_END_ALLOW_THREADS
    if (st != CLIFF_OK) {
        cliff_py_raise(st);
        goto done;
    }
    SMPLObject *self = (SMPLObject *)type->tp_alloc(type, 0);
    if (!self) {
        cliff_smpl_free(model);
        goto done;
    }
    self->model = model;
    result = (PyObject *)self;
done:
    for (int i = 0; i < 6; i++) Py_XDECREF(a[i]);
    return result;
}

/* float32 array with batch size checked against *n (set it when *n < 0). */
static PyArrayObject *batch_array(PyObject *obj, const char *name, int ndim, const npy_intp *dims,
                                  const char *expect, npy_intp *n, const char **n_from) {
    PyArrayObject *a = cliff_py_array_shape(obj, name, NPY_FLOAT32, 0, ndim, dims, expect);
    if (!a) return NULL;
    if (cliff_py_check_finite(a, name) < 0) goto fail;
    if (*n < 0) {
        *n = PyArray_DIM(a, 0);
        *n_from = name;
    } else if (PyArray_DIM(a, 0) != *n) {
        PyErr_Format(PyExc_ValueError, "%s: batch size %ld does not match %s's %ld", name,
                     (long)PyArray_DIM(a, 0), *n_from, (long)*n);
        goto fail;
    }
    return a;
fail:
    Py_DECREF(a);
    return NULL;
}

static PyObject *smpl_forward(PyObject *self_, PyObject *args, PyObject *kwds) {
    SMPLObject *self = (SMPLObject *)self_;
    static char *kwlist[] = {"rotmat", "pose", "betas", "transl", "vertices", NULL};
    PyObject *o_rot = Py_None, *o_pose = Py_None, *o_betas = Py_None, *o_transl = Py_None;
    int want_vertices = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOO$p:forward", kwlist, &o_rot, &o_pose,
                                     &o_betas, &o_transl, &want_vertices))
        return NULL;
    if ((o_rot == Py_None) == (o_pose == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "rotmat, pose: pass exactly one of rotmat (N, 24, 3, 3) "
                                          "or pose (N, 72) axis-angle");
        return NULL;
    }
    const npy_intp J = CLIFF_SMPL_NUM_JOINTS, V = CLIFF_SMPL_NUM_VERTICES;
    const npy_intp d_rot[] = {-1, J, 3, 3}, d_pose[] = {-1, 3 * J}, d_betas[] = {-1, -1},
                   d_tr[] = {-1, 3};
    npy_intp n = -1;
    const char *n_from = "";
    PyArrayObject *rot = NULL, *pose = NULL, *betas = NULL, *transl = NULL;
    PyArrayObject *verts = NULL, *joints = NULL, *jrest = NULL;
    PyObject *result = NULL;
    if (o_rot != Py_None) {
        if (!(rot = batch_array(o_rot, "rotmat", 4, d_rot, "(N, 24, 3, 3)", &n, &n_from))) goto done;
    } else {
        if (!(pose = batch_array(o_pose, "pose", 2, d_pose, "(N, 72) axis-angle", &n, &n_from))) goto done;
        const npy_intp d[] = {n, J, 3, 3};
        if (!(rot = (PyArrayObject *)PyArray_SimpleNew(4, d, NPY_FLOAT32))) goto done;
    }
    size_t k = 0;
    if (o_betas != Py_None) {
        if (!(betas = batch_array(o_betas, "betas", 2, d_betas, "(N, k) with k <= num_betas", &n, &n_from)))
            goto done;
        npy_intp K = (npy_intp)cliff_smpl_num_betas(self->model);
        if (PyArray_DIM(betas, 1) > K) {
            PyErr_Format(PyExc_ValueError, "betas: expected at most %d shape components (the model's "
                         "num_betas), got %ld", (int)K, (long)PyArray_DIM(betas, 1));
            goto done;
        }
        k = (size_t)PyArray_DIM(betas, 1);
    }
    if (o_transl != Py_None && !(transl = batch_array(o_transl, "transl", 2, d_tr, "(N, 3)", &n, &n_from)))
        goto done;
    const npy_intp d_v[] = {n, V, 3}, d_j[] = {n, CLIFF_SMPL_NUM_OUTPUT_JOINTS, 3}, d_jr[] = {n, J, 3};
    if (want_vertices && !(verts = (PyArrayObject *)PyArray_SimpleNew(3, d_v, NPY_FLOAT32))) goto done;
    if (!(joints = (PyArrayObject *)PyArray_SimpleNew(3, d_j, NPY_FLOAT32))) goto done;
    if (!(jrest = (PyArrayObject *)PyArray_SimpleNew(3, d_jr, NPY_FLOAT32))) goto done;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    if (pose) cliff_axis_angle_to_rotmat_f32(PyArray_DATA(pose), (size_t)n * J, PyArray_DATA(rot));
    st = cliff_smpl_forward(self->model, (size_t)n, PyArray_DATA(rot),
                            betas ? PyArray_DATA(betas) : NULL, k,
                            transl ? PyArray_DATA(transl) : NULL,
                            verts ? PyArray_DATA(verts) : NULL, PyArray_DATA(joints), PyArray_DATA(jrest));
    Py_END_ALLOW_THREADS
    if (st != CLIFF_OK) {
        cliff_py_raise(st);
        goto done;
    }
    result = PyDict_New();
    if (!result) goto done;
    if ((verts && PyDict_SetItemString(result, "vertices", (PyObject *)verts) < 0) ||
        PyDict_SetItemString(result, "joints", (PyObject *)joints) < 0 ||
        PyDict_SetItemString(result, "joints_rest", (PyObject *)jrest) < 0)
        Py_CLEAR(result);
done:
    Py_XDECREF(rot);
    Py_XDECREF(pose);
    Py_XDECREF(betas);
    Py_XDECREF(transl);
    Py_XDECREF(verts);
    Py_XDECREF(joints);
    Py_XDECREF(jrest);
    return result;
}

static PyObject *smpl_get_num_betas(PyObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(cliff_smpl_num_betas(((SMPLObject *)self)->model));
}

static PyObject *smpl_get_threads(PyObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(cliff_smpl_get_num_threads(((SMPLObject *)self)->model));
}

static int smpl_set_threads(PyObject *self, PyObject *value, void *closure) {
    (void)closure;
    int n;
    if (cliff_py_thread_count(value, "threads", "process-wide count", &n) < 0) return -1;
    cliff_smpl_set_num_threads(((SMPLObject *)self)->model, n);
    return 0;
}

static PyObject *smpl_vertex_joint_ids(PyObject *mod, PyObject *noargs) {
    (void)mod;
    (void)noargs;
    const npy_intp d[] = {CLIFF_SMPL_NUM_VERTEX_JOINTS};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, d, NPY_INT32);
    if (a) cliff_smpl_vertex_joint_ids(PyArray_DATA(a));
    return (PyObject *)a;
}

static PyObject *smpl_fit_body(PyObject *self, PyObject *arg) {
    Py_ssize_t k = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (k == -1 && PyErr_Occurred()) return NULL;
    cliff_smpl *model = ((SMPLObject *)self)->model;
    if (k < 0 || (size_t)k > cliff_smpl_num_betas(model))
        return PyErr_Format(PyExc_ValueError, "num_betas: expected 0..%zu (the model's num_betas), got %zd",
                            cliff_smpl_num_betas(model), k);
    const npy_intp J = CLIFF_SMPL_NUM_JOINTS, X = CLIFF_SMPL_NUM_VERTEX_JOINTS;
    const npy_intp dims[7][3] = {{J, 3}, {J, 3, k}, {J}, {X, 3}, {X, 3, k},
                                 {X, 3, CLIFF_SMPL_NUM_POSE_FEATURES}, {X, J}};
    static const int nd[7] = {2, 3, 1, 2, 3, 3, 2};
    static const char *names[7] = {"J0", "Jdirs", "parents", "vt", "vdirs", "vpose", "vweights"};
    PyArrayObject *a[7] = {NULL};
    PyObject *result = NULL;
    for (int i = 0; i < 7; i++)
        if (!(a[i] = (PyArrayObject *)PyArray_ZEROS(nd[i], dims[i], i == 2 ? NPY_INT64 : NPY_FLOAT64, 0)))
            goto done;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_smpl_fit_body(model, (size_t)k, PyArray_DATA(a[0]), PyArray_DATA(a[1]), PyArray_DATA(a[2]),
                             PyArray_DATA(a[3]), PyArray_DATA(a[4]), PyArray_DATA(a[5]), PyArray_DATA(a[6]));
    Py_END_ALLOW_THREADS
    if (st) {
        cliff_py_raise(st);
        goto done;
    }
    if (!(result = PyDict_New())) goto done;
    for (int i = 0; i < 7; i++)
        if (PyDict_SetItemString(result, names[i], (PyObject *)a[i]) < 0) {
            Py_CLEAR(result);
            goto done;
        }
done:
    for (int i = 0; i < 7; i++) Py_XDECREF(a[i]);
    return result;
}

static PyMethodDef smpl_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))smpl_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(rotmat=None, pose=None, betas=None, transl=None, *, vertices=True) -> dict.\n"
     "rotmat (N,24,3,3) or pose (N,72); betas (N,k); transl (N,3). Returns float32 'vertices'\n"
     "(N,6890,3) (unless vertices=False), 'joints' (N,45,3), 'joints_rest' (N,24,3)."},
    {"fit_body", smpl_fit_body, METH_O,
     "fit_body(k) -> dict of float64 arrays J0, Jdirs, parents (int64), vt, vdirs, vpose, vweights\n"
     "(the fitter's body with the first k shape components; see cliff_smpl_fit_body)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef smpl_getset[] = {
    {"num_betas", smpl_get_num_betas, NULL, "Number of shape components of the model.", NULL},
    {"threads", smpl_get_threads, smpl_set_threads,
     "Threads of this model's calls (set 0 to follow set_num_threads).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot smpl_slots[] = {
    {Py_tp_new, smpl_new},
    {Py_tp_dealloc, smpl_dealloc},
    {Py_tp_methods, smpl_methods},
    {Py_tp_getset, smpl_getset},
    {Py_tp_doc, "SMPL(v_template, shapedirs, posedirs, J_regressor, weights, parents)\n"
                "SMPL body model in C (arrays are copied; float64 in, float32 compute)."},
    {0, NULL},
};

static PyType_Spec smpl_spec = {
    .name = "cliff._core.SMPL",
    .basicsize = sizeof(SMPLObject),
#ifdef Py_TPFLAGS_IMMUTABLETYPE
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
#else
    .flags = Py_TPFLAGS_DEFAULT,
#endif
    .slots = smpl_slots,
};

static PyMethodDef smpl_functions[] = {
    {"smpl_vertex_joint_ids", smpl_vertex_joint_ids, METH_NOARGS,
     "smpl_vertex_joint_ids() -> int32 (21,): SMPL vertex of each of joints 24..44."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_smpl_init(PyObject *m) {
    cliff_state *st = cliff_py_state(m);
    PyObject *type = PyType_FromModuleAndSpec(m, &smpl_spec, NULL);
    if (!type) return -1;
    st->smpl_type = (PyTypeObject *)type; /* the state owns the reference */
    if (PyModule_AddObjectRef(m, "SMPL", type) < 0) return -1;
    return PyModule_AddFunctions(m, smpl_functions);
}
