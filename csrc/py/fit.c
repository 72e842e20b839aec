/* fit.c (bindings) - cliff._core.fit_people / fit_jacobian over csrc/fit.c. All float64. */
#include "pyutil.h"

typedef struct {
    PyArrayObject *a[7]; /* J0, Jdirs, parents, vt, vdirs, vpose, vweights */
    cliff_fit_body body;
} body_arrays;

static void body_release(body_arrays *b) {
    for (int i = 0; i < 7; i++) Py_CLEAR(b->a[i]);
}

/* body = (J0 (24,3), Jdirs (24,3,K), parents (24,), vt (V,3), vdirs (V,3,K), vpose (V,3,207),
 * vweights (V,24)). 0 on success. */
static int body_convert(PyObject *obj, body_arrays *b) {
    memset(b, 0, sizeof *b);
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 7) {
        PyErr_SetString(PyExc_TypeError, "body: expected a tuple (J0, Jdirs, parents, vt, vdirs, "
                                         "vpose, vweights) as made by cliff.fit.FitBody");
        return -1;
    }
    static const char *names[7] = {"body.J0", "body.Jdirs", "body.parents", "body.vt",
                                   "body.vdirs", "body.vpose", "body.vweights"};
    npy_intp d0[2] = {24, 3}, d1[3] = {24, 3, -1}, d2[1] = {24}, d3[2] = {-1, 3},
             d4[3] = {-1, 3, -1}, d5[3] = {-1, 3, 207}, d6[2] = {-1, 24};
    const npy_intp *dims[7] = {d0, d1, d2, d3, d4, d5, d6};
    const int nd[7] = {2, 3, 1, 2, 3, 3, 2};
    const char *expect[7] = {"(24, 3)", "(24, 3, K)", "(24,)", "(V, 3)", "(V, 3, K)",
                             "(V, 3, 207)", "(V, 24)"};
    for (int i = 0; i < 7; i++) {
        b->a[i] = cliff_py_array_shape(PyTuple_GET_ITEM(obj, i), names[i],
                                       i == 2 ? NPY_INT64 : NPY_FLOAT64, 0, nd[i], dims[i], expect[i]);
        if (!b->a[i] || (i != 2 && cliff_py_check_finite(b->a[i], names[i]) < 0)) {
            body_release(b);
            return -1;
        }
    }
    npy_intp K = PyArray_DIM(b->a[1], 2), V = PyArray_DIM(b->a[3], 0);
    if (PyArray_DIM(b->a[4], 0) != V || PyArray_DIM(b->a[4], 2) != K || PyArray_DIM(b->a[5], 0) != V ||
        PyArray_DIM(b->a[6], 0) != V) {
        PyErr_Format(PyExc_ValueError, "body: inconsistent sizes (K = %ld betas from Jdirs, V = %ld "
                                       "vertex joints from vt)", (long)K, (long)V);
        body_release(b);
        return -1;
    }
    b->body.n_betas = (size_t)K;
    b->body.n_vert = (size_t)V;
    b->body.J0 = PyArray_DATA(b->a[0]);
    b->body.Jdirs = PyArray_DATA(b->a[1]);
    b->body.parents = PyArray_DATA(b->a[2]);
    b->body.vt = PyArray_DATA(b->a[3]);
    b->body.vdirs = PyArray_DATA(b->a[4]);
    b->body.vpose = PyArray_DATA(b->a[5]);
    b->body.vweights = PyArray_DATA(b->a[6]);
    return 0;
}

static PyObject *py_fit_people(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"body", "R0", "betas0", "t0", "cam", "kp", "kp_joint", "norm",
                             "max_iter", "tol", "robust", "robust_scale", "sigma_rel", "w_root",
                             "w_pose", "w_betas_init", "w_shape", "w_transl", NULL};
    PyObject *obody, *oR, *ob, *ot, *oc, *okp, *oj, *on;
    cliff_fit_options o = cliff_fit_default_params();
    Py_ssize_t max_iter = (Py_ssize_t)o.max_iter;
    int robust = (int)o.robust;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO|$ndiddddddd", kwlist, &obody, &oR, &ob,
                                     &ot, &oc, &okp, &oj, &on, &max_iter, &o.tol, &robust,
                                     &o.robust_scale, &o.sigma_rel, &o.w_root, &o.w_pose,
                                     &o.w_betas_init, &o.w_shape, &o.w_transl))
        return NULL;
    if (max_iter < 1)
        return PyErr_Format(PyExc_ValueError, "max_iter: expected an integer >= 1, got %zd", max_iter);
    if (robust != CLIFF_ROBUST_NONE && robust != CLIFF_ROBUST_GEMAN_MCCLURE && robust != CLIFF_ROBUST_HUBER)
        return PyErr_Format(PyExc_ValueError, "robust: expected %d (none), %d (Geman-McClure) or %d "
                            "(Huber), got %d", CLIFF_ROBUST_NONE, CLIFF_ROBUST_GEMAN_MCCLURE,
                            CLIFF_ROBUST_HUBER, robust);
    o.max_iter = (size_t)max_iter;
    o.robust = (cliff_robust_kind)robust;
    body_arrays b;
    if (body_convert(obody, &b) < 0) return NULL;
    const npy_intp K = (npy_intp)b.body.n_betas;
    PyArrayObject *R0 = NULL, *b0 = NULL, *t0 = NULL, *cam = NULL, *kp = NULL, *kj = NULL,
                  *nrm = NULL, *R = NULL, *bo = NULL, *to = NULL, *phi = NULL, *st = NULL;
    PyObject *res = NULL;
    R0 = cliff_py_array_shape(oR, "R0", NPY_FLOAT64, 0, 4, (npy_intp[]){-1, 24, 3, 3}, "(n, 24, 3, 3)");
    if (!R0) goto done;
    npy_intp n = PyArray_DIM(R0, 0);
    b0 = cliff_py_array_shape(ob, "betas0", NPY_FLOAT64, 0, 2, (npy_intp[]){n, K}, "(n, K)");
    t0 = b0 ? cliff_py_array_shape(ot, "t0", NPY_FLOAT64, 0, 2, (npy_intp[]){n, 3}, "(n, 3)") : NULL;
    cam = t0 ? cliff_py_array_shape(oc, "cam", NPY_FLOAT64, 0, 2, (npy_intp[]){n, 3}, "(n, 3)") : NULL;
    kp = cam ? cliff_py_array_shape(okp, "kp", NPY_FLOAT64, 0, 3, (npy_intp[]){n, -1, 3}, "(n, M, 3)") : NULL;
    if (!kp) goto done;
    npy_intp M = PyArray_DIM(kp, 1);
    kj = cliff_py_array_shape(oj, "kp_joint", NPY_INT64, 0, 1, (npy_intp[]){M}, "(M,)");
    nrm = kj ? cliff_py_array_shape(on, "norm", NPY_FLOAT64, 0, 1, (npy_intp[]){n}, "(n,)") : NULL;
    if (!nrm) goto done;
    if (cliff_py_check_finite(R0, "R0") < 0 || cliff_py_check_finite(b0, "betas0") < 0 ||
        cliff_py_check_finite(t0, "t0") < 0 || cliff_py_check_finite(cam, "cam") < 0 ||
        cliff_py_check_finite(kp, "kp") < 0 || cliff_py_check_finite(nrm, "norm") < 0)
        goto done;
    R = (PyArrayObject *)PyArray_SimpleNew(4, ((npy_intp[]){n, 24, 3, 3}), NPY_FLOAT64);
    bo = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, K}), NPY_FLOAT64);
    to = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 3}), NPY_FLOAT64);
    phi = (PyArrayObject *)PyArray_SimpleNew(3, ((npy_intp[]){n, 24, 3}), NPY_FLOAT64);
    st = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 5}), NPY_FLOAT64);
    if (!R || !bo || !to || !phi || !st) goto done;
    cliff_status s;
    Py_BEGIN_ALLOW_THREADS
    const cliff_fit_input in = {.n = (size_t)n, .M = (size_t)M, .R0 = PyArray_DATA(R0),
                                .betas0 = PyArray_DATA(b0), .t0 = PyArray_DATA(t0),
                                .cam = PyArray_DATA(cam), .kp = PyArray_DATA(kp),
                                .norm = PyArray_DATA(nrm), .kp_joint = PyArray_DATA(kj)};
    const cliff_fit_output fo = {.R = PyArray_DATA(R), .betas = PyArray_DATA(bo),
                                 .t = PyArray_DATA(to), .phi = PyArray_DATA(phi),
                                 .stats = PyArray_DATA(st)};
    s = cliff_fit_people(&b.body, &o, &in, &fo);
    Py_END_ALLOW_THREADS
    if (s != CLIFF_OK) {
        cliff_py_raise(s);
        goto done;
    }
    res = Py_BuildValue("(OOOOO)", R, bo, to, phi, st);
done:
    body_release(&b);
    Py_XDECREF(R0), Py_XDECREF(b0), Py_XDECREF(t0), Py_XDECREF(cam), Py_XDECREF(kp);
    Py_XDECREF(kj), Py_XDECREF(nrm), Py_XDECREF(R), Py_XDECREF(bo), Py_XDECREF(to);
    Py_XDECREF(phi), Py_XDECREF(st);
    return res;
}

static PyObject *py_fit_jacobian(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *obody, *oR, *op, *ob, *ot, *oc;
    if (!PyArg_ParseTuple(args, "OOOOOO", &obody, &oR, &op, &ob, &ot, &oc)) return NULL;
    body_arrays b;
    if (body_convert(obody, &b) < 0) return NULL;
    const npy_intp K = (npy_intp)b.body.n_betas, NJ = 24 + (npy_intp)b.body.n_vert, P = 72 + K + 3;
    PyArrayObject *R0 = NULL, *phi = NULL, *be = NULL, *t = NULL, *cam = NULL;
    PyArrayObject *J = NULL, *uv = NULL, *dJ = NULL, *duv = NULL;
    PyObject *res = NULL;
    R0 = cliff_py_array_shape(oR, "R0", NPY_FLOAT64, 0, 3, (npy_intp[]){24, 3, 3}, "(24, 3, 3)");
    phi = R0 ? cliff_py_array_shape(op, "phi", NPY_FLOAT64, 0, 2, (npy_intp[]){24, 3}, "(24, 3)") : NULL;
    be = phi ? cliff_py_array_shape(ob, "betas", NPY_FLOAT64, 0, 1, (npy_intp[]){K}, "(K,)") : NULL;
    t = be ? cliff_py_array_shape(ot, "t", NPY_FLOAT64, 0, 1, (npy_intp[]){3}, "(3,)") : NULL;
    cam = t ? cliff_py_array_shape(oc, "cam", NPY_FLOAT64, 0, 1, (npy_intp[]){3}, "(3,)") : NULL;
    if (!cam) goto done;
    J = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){NJ, 3}), NPY_FLOAT64);
    uv = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){NJ, 2}), NPY_FLOAT64);
    dJ = (PyArrayObject *)PyArray_SimpleNew(3, ((npy_intp[]){NJ, 3, P}), NPY_FLOAT64);
    duv = (PyArrayObject *)PyArray_SimpleNew(3, ((npy_intp[]){NJ, 2, P}), NPY_FLOAT64);
    if (!J || !uv || !dJ || !duv) goto done;
    cliff_status s = cliff_fit_jacobian(&b.body, PyArray_DATA(R0), PyArray_DATA(phi),
                                        PyArray_DATA(be), PyArray_DATA(t), PyArray_DATA(cam),
                                        PyArray_DATA(J), PyArray_DATA(uv), PyArray_DATA(dJ),
                                        PyArray_DATA(duv));
    if (s != CLIFF_OK) {
        cliff_py_raise(s);
        goto done;
    }
    res = Py_BuildValue("(OOOO)", J, uv, dJ, duv);
done:
    body_release(&b);
    Py_XDECREF(R0), Py_XDECREF(phi), Py_XDECREF(be), Py_XDECREF(t), Py_XDECREF(cam);
    Py_XDECREF(J), Py_XDECREF(uv), Py_XDECREF(dJ), Py_XDECREF(duv);
    return res;
}

static PyMethodDef fit_methods[] = {
    {"fit_people", (PyCFunction)(void (*)(void))py_fit_people, METH_VARARGS | METH_KEYWORDS,
     "fit_people(body, R0, betas0, t0, cam, kp, kp_joint, norm, *, max_iter, tol, robust, "
     "robust_scale, sigma_rel, w_root, w_pose, w_betas_init, w_shape, w_transl) -> "
     "(R, betas, t, phi, stats). See cliff.fit."},
    {"fit_jacobian", py_fit_jacobian, METH_VARARGS,
     "fit_jacobian(body, R0, phi, betas, t, cam) -> (joints, uv, djoints, duv). See cliff.fit."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_fit_init(PyObject *m) { return PyModule_AddFunctions(m, fit_methods); }
