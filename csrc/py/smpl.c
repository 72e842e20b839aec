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
                             "parents", "kind", "num_pose_joints", "rest_rotmats",
                             "landmark_vertices", "landmark_weights", "faces", NULL};
    PyObject *o[6], *o_rest = Py_None, *o_lv = Py_None, *o_lw = Py_None, *o_faces = Py_None;
    const char *kind = "smpl";
    Py_ssize_t num_pose_joints = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO|$snOOOO:SMPL", kwlist, &o[0], &o[1], &o[2],
                                     &o[3], &o[4], &o[5], &kind, &num_pose_joints, &o_rest, &o_lv,
                                     &o_lw, &o_faces))
        return NULL;
    int smplx = !strcmp(kind, "smplx");
    if (!smplx && strcmp(kind, "smpl"))
        return PyErr_Format(PyExc_ValueError, "kind: expected 'smpl' or 'smplx', got '%s'", kind);
    const npy_intp V = smplx ? CLIFF_SMPLX_NUM_VERTICES : CLIFF_SMPL_NUM_VERTICES,
                   J = smplx ? CLIFF_SMPLX_NUM_JOINTS : CLIFF_SMPL_NUM_JOINTS;
    if (num_pose_joints < 0 || num_pose_joints > J)
        return PyErr_Format(PyExc_ValueError, "num_pose_joints: expected 0..%d, got %zd", (int)J, num_pose_joints);
    const npy_intp d_vt[] = {V, 3}, d_sd[] = {V, 3, -1}, d_pd[] = {V, 3, 9 * (J - 1)},
                   d_jr[] = {J, V}, d_w[] = {V, J}, d_p[] = {J}, d_rest[] = {J, 3, 3},
                   d_lmk[] = {-1, 3}, d_f[] = {-1, 3};
    char e_vt[64], e_sd[64], e_pd[64], e_jr[64], e_w[64], e_p[64];
    snprintf(e_vt, sizeof e_vt, "(%d, 3)", (int)V);
    snprintf(e_sd, sizeof e_sd, "(%d, 3, num_betas)", (int)V);
    snprintf(e_pd, sizeof e_pd, "(%d, 3, %d)", (int)V, 9 * (int)(J - 1));
    snprintf(e_jr, sizeof e_jr, "(%d, %d) dense", (int)J, (int)V);
    snprintf(e_w, sizeof e_w, "(%d, %d)", (int)V, (int)J);
    snprintf(e_p, sizeof e_p, "(%d,)", (int)J);
    PyArrayObject *a[6] = {NULL}, *rest = NULL, *lv = NULL, *lw = NULL, *faces = NULL;
    PyObject *result = NULL;
    if (!(a[0] = model_array(o[0], "v_template", 2, d_vt, e_vt))) goto done;
    if (!(a[1] = model_array(o[1], "shapedirs", 3, d_sd, e_sd))) goto done;
    if (!(a[2] = model_array(o[2], "posedirs", 3, d_pd, e_pd))) goto done;
    if (!(a[3] = model_array(o[3], "J_regressor", 2, d_jr, e_jr))) goto done;
    if (!(a[4] = model_array(o[4], "weights", 2, d_w, e_w))) goto done;
    if (!(a[5] = cliff_py_array_shape(o[5], "parents", NPY_INT64, 0, 1, d_p, e_p))) goto done;
    if (o_rest != Py_None && !(rest = model_array(o_rest, "rest_rotmats", 3, d_rest, "(J, 3, 3)"))) goto done;
    if (o_lv != Py_None && !(lv = cliff_py_array_shape(o_lv, "landmark_vertices", NPY_INT32, 0, 2, d_lmk, "(L, 3)")))
        goto done;
    if (o_lw != Py_None && !(lw = model_array(o_lw, "landmark_weights", 2, d_lmk, "(L, 3)"))) goto done;
    if ((lv == NULL) != (lw == NULL) || (lv && PyArray_DIM(lv, 0) != PyArray_DIM(lw, 0))) {
        PyErr_SetString(PyExc_ValueError, "landmark_vertices, landmark_weights: expected both, with the same (L, 3) shape");
        goto done;
    }
    if (o_faces != Py_None && !(faces = cliff_py_array_shape(o_faces, "faces", NPY_INT32, 0, 2, d_f, "(F, 3)")))
        goto done;
    cliff_body_params prm = cliff_body_default_params();
    prm.kind = smplx ? CLIFF_BODY_SMPLX : CLIFF_BODY_SMPL;
    prm.num_vertices = (size_t)V;
    prm.num_joints = (size_t)J;
    prm.num_betas = (size_t)PyArray_DIM(a[1], 2);
    prm.num_pose_joints = (size_t)num_pose_joints;
    prm.v_template = PyArray_DATA(a[0]);
    prm.shapedirs = PyArray_DATA(a[1]);
    prm.posedirs = PyArray_DATA(a[2]);
    prm.J_regressor = PyArray_DATA(a[3]);
    prm.weights = PyArray_DATA(a[4]);
    prm.parents = PyArray_DATA(a[5]);
    prm.rest_rotmats = rest ? PyArray_DATA(rest) : NULL;
    if (lv) {
        prm.num_landmarks = (size_t)PyArray_DIM(lv, 0);
        prm.landmark_vertices = PyArray_DATA(lv);
        prm.landmark_weights = PyArray_DATA(lw);
    }
    if (faces) {
        prm.num_faces = (size_t)PyArray_DIM(faces, 0);
        prm.faces = PyArray_DATA(faces);
    }
    cliff_smpl *model = NULL;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_body_create(&prm, &model);
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
    Py_XDECREF(rest);
    Py_XDECREF(lv);
    Py_XDECREF(lw);
    Py_XDECREF(faces);
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
    const npy_intp J = (npy_intp)cliff_body_num_pose_joints(self->model),
                   V = (npy_intp)cliff_body_num_vertices(self->model),
                   JS = (npy_intp)cliff_body_num_joints(self->model);
    char e_rot[48], e_pose[48];
    snprintf(e_rot, sizeof e_rot, "(N, %d, 3, 3)", (int)J);
    snprintf(e_pose, sizeof e_pose, "(N, %d) axis-angle", 3 * (int)J);
    if ((o_rot == Py_None) == (o_pose == Py_None)) {
        PyErr_Format(PyExc_ValueError, "rotmat, pose: pass exactly one of rotmat %s "
                                       "or pose (N, %d) axis-angle", e_rot, 3 * (int)J);
        return NULL;
    }
    const npy_intp d_rot[] = {-1, J, 3, 3}, d_pose[] = {-1, 3 * J}, d_betas[] = {-1, -1},
                   d_tr[] = {-1, 3};
    npy_intp n = -1;
    const char *n_from = "";
    PyArrayObject *rot = NULL, *pose = NULL, *betas = NULL, *transl = NULL;
    PyArrayObject *verts = NULL, *joints = NULL, *jrest = NULL;
    PyObject *result = NULL;
    if (o_rot != Py_None) {
        if (!(rot = batch_array(o_rot, "rotmat", 4, d_rot, e_rot, &n, &n_from))) goto done;
    } else {
        if (!(pose = batch_array(o_pose, "pose", 2, d_pose, e_pose, &n, &n_from))) goto done;
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
    const npy_intp d_v[] = {n, V, 3}, d_j[] = {n, (npy_intp)cliff_body_num_output_joints(self->model), 3},
                   d_jr[] = {n, JS, 3};
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

static PyObject *smpl_get_kind(PyObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(cliff_body_get_kind(((SMPLObject *)self)->model) == CLIFF_BODY_SMPLX ? "smplx" : "smpl");
}

static PyObject *smpl_get_size(PyObject *self, void *closure) {
    const cliff_body *b = ((SMPLObject *)self)->model;
    switch ((int)(intptr_t)closure) {
    case 0: return PyLong_FromSize_t(cliff_body_num_vertices(b));
    case 1: return PyLong_FromSize_t(cliff_body_num_joints(b));
    case 2: return PyLong_FromSize_t(cliff_body_num_pose_joints(b));
    case 3: return PyLong_FromSize_t(cliff_body_num_output_joints(b));
    default: return PyLong_FromSize_t(cliff_body_num_landmarks(b));
    }
}

static PyObject *smpl_get_faces(PyObject *self, void *closure) {
    (void)closure;
    const cliff_body *b = ((SMPLObject *)self)->model;
    const npy_intp d[] = {(npy_intp)cliff_body_num_faces(b), 3};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(2, d, NPY_INT32);
    if (a && d[0]) memcpy(PyArray_DATA(a), cliff_body_faces(b), sizeof(int32_t) * 3 * (size_t)d[0]);
    return (PyObject *)a;
}

static PyObject *smpl_get_vertex_joint_ids(PyObject *self, void *closure) {
    (void)closure;
    const cliff_body *b = ((SMPLObject *)self)->model;
    const npy_intp d[] = {(npy_intp)cliff_body_num_vertex_joints(b)};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, d, NPY_INT32);
    if (a) cliff_body_vertex_joint_ids(b, PyArray_DATA(a));
    return (PyObject *)a;
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

static PyObject *smplx_vertex_joint_ids(PyObject *mod, PyObject *noargs) {
    (void)mod;
    (void)noargs;
    const npy_intp d[] = {(npy_intp)cliff_body_default_vertex_joint_ids(CLIFF_BODY_SMPLX, NULL)};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, d, NPY_INT32);
    if (a) cliff_body_default_vertex_joint_ids(CLIFF_BODY_SMPLX, PyArray_DATA(a));
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
    {"kind", smpl_get_kind, NULL, "'smpl' or 'smplx'.", NULL},
    {"num_vertices", smpl_get_size, NULL, "Vertices V.", (void *)0},
    {"num_joints", smpl_get_size, NULL, "Skeleton joints J (24 or 55).", (void *)1},
    {"num_pose_joints", smpl_get_size, NULL, "Rotations forward reads per body (root first).", (void *)2},
    {"num_output_joints", smpl_get_size, NULL, "Joints forward returns (J + vertex joints + landmarks).", (void *)3},
    {"num_landmarks", smpl_get_size, NULL, "Face landmarks among the output joints.", (void *)4},
    {"faces", smpl_get_faces, NULL, "(F, 3) int32 triangles given at creation (empty if none).", NULL},
    {"vertex_joint_ids", smpl_get_vertex_joint_ids, NULL, "Vertex behind each vertex joint.", NULL},
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
    {"smplx_vertex_joint_ids", smplx_vertex_joint_ids, METH_NOARGS,
     "smplx_vertex_joint_ids() -> int32 (21,): SMPL-X vertex of each of joints 55..75."},
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
