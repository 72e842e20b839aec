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

/* Options and per-person inputs shared by fit_people_ex and fit_evaluate. */
typedef struct {
    body_arrays b;
    cliff_fit_options o;
    PyArrayObject *R0, *b0, *t0, *cam, *kp, *kj, *nrm;
    PyArrayObject *gm, *gl, *gc; /* pose prior: means (G,69), prec_chol (G,69,69), const (G,) */
    npy_intp n, M;
} fit_inputs;

static void inputs_release(fit_inputs *in) {
    body_release(&in->b);
    Py_CLEAR(in->R0);
    Py_CLEAR(in->b0);
    Py_CLEAR(in->t0);
    Py_CLEAR(in->cam);
    Py_CLEAR(in->kp);
    Py_CLEAR(in->kj);
    Py_CLEAR(in->nrm);
    Py_CLEAR(in->gm);
    Py_CLEAR(in->gl);
    Py_CLEAR(in->gc);
}

/* pose_prior = None or (means (G,69), prec_chol (G,69,69), const (G,)) as made by
 * cliff.annotate.prior.PosePrior.core_arrays(); the core checks the values. 0 on success. */
static int gmm_convert(fit_inputs *in, PyObject *obj) {
    if (obj == Py_None) return 0;
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 3) {
        PyErr_SetString(PyExc_TypeError, "pose_prior: expected None or a tuple (means, prec_chol, "
                                         "const) as made by cliff.annotate.prior.PosePrior");
        return -1;
    }
    in->gm = cliff_py_array_shape(PyTuple_GET_ITEM(obj, 0), "pose_prior.means", NPY_FLOAT64, 0, 2,
                                  (npy_intp[]){-1, 69}, "(G, 69)");
    if (!in->gm) return -1;
    npy_intp G = PyArray_DIM(in->gm, 0);
    if (G < 1 || G > 64) {
        PyErr_Format(PyExc_ValueError, "pose_prior: expected 1..64 components, got %ld", (long)G);
        return -1;
    }
    in->gl = cliff_py_array_shape(PyTuple_GET_ITEM(obj, 1), "pose_prior.prec_chol", NPY_FLOAT64,
                                  0, 3, (npy_intp[]){G, 69, 69}, "(G, 69, 69)");
    if (!in->gl) return -1;
    in->gc = cliff_py_array_shape(PyTuple_GET_ITEM(obj, 2), "pose_prior.const", NPY_FLOAT64, 0, 1,
                                  (npy_intp[]){G}, "(G,)");
    if (!in->gc) return -1;
    in->o.gmm_n = (size_t)G;
    in->o.gmm_means = PyArray_DATA(in->gm);
    in->o.gmm_prec_chol = PyArray_DATA(in->gl);
    in->o.gmm_const = PyArray_DATA(in->gc);
    return 0;
}

static int inputs_convert(fit_inputs *in, PyObject *obody, PyObject *oR, PyObject *ob,
                          PyObject *ot, PyObject *oc, PyObject *okp, PyObject *oj, PyObject *on) {
    if (body_convert(obody, &in->b) < 0) return -1;
    const npy_intp K = (npy_intp)in->b.body.n_betas;
    in->R0 = cliff_py_array_shape(oR, "R0", NPY_FLOAT64, 0, 4, (npy_intp[]){-1, 24, 3, 3}, "(n, 24, 3, 3)");
    if (!in->R0) return -1;
    npy_intp n = in->n = PyArray_DIM(in->R0, 0);
    in->b0 = cliff_py_array_shape(ob, "betas0", NPY_FLOAT64, 0, 2, (npy_intp[]){n, K}, "(n, K)");
    if (!in->b0) return -1;
    in->t0 = cliff_py_array_shape(ot, "t0", NPY_FLOAT64, 0, 2, (npy_intp[]){n, 3}, "(n, 3)");
    if (!in->t0) return -1;
    in->cam = cliff_py_array_shape(oc, "cam", NPY_FLOAT64, 0, 2, (npy_intp[]){n, 3}, "(n, 3)");
    if (!in->cam) return -1;
    in->kp = cliff_py_array_shape(okp, "kp", NPY_FLOAT64, 0, 3, (npy_intp[]){n, -1, 3}, "(n, M, 3)");
    if (!in->kp) return -1;
    npy_intp M = in->M = PyArray_DIM(in->kp, 1);
    in->kj = cliff_py_array_shape(oj, "kp_joint", NPY_INT64, 0, 1, (npy_intp[]){M}, "(M,)");
    if (!in->kj) return -1;
    in->nrm = cliff_py_array_shape(on, "norm", NPY_FLOAT64, 0, 1, (npy_intp[]){n}, "(n,)");
    if (!in->nrm) return -1;
    if (cliff_py_check_finite(in->R0, "R0") < 0 || cliff_py_check_finite(in->b0, "betas0") < 0 ||
        cliff_py_check_finite(in->t0, "t0") < 0 || cliff_py_check_finite(in->cam, "cam") < 0 ||
        cliff_py_check_finite(in->kp, "kp") < 0 || cliff_py_check_finite(in->nrm, "norm") < 0)
        return -1;
    return 0;
}

#define FIT_KWLIST "body", "R0", "betas0", "t0", "cam", "kp", "kp_joint", "norm"
#define FIT_OPTLIST "max_iter", "tol", "robust", "robust_scale", "sigma_rel", "w_root", "w_pose", \
                    "w_betas_init", "w_shape", "w_transl", "w_depth"
#define FIT_OPTPTRS(o) &(o).max_iter, &(o).tol, &(o).robust, &(o).robust_scale, &(o).sigma_rel, \
                       &(o).w_root, &(o).w_pose, &(o).w_betas_init, &(o).w_shape, &(o).w_transl, \
                       &(o).w_depth
#define FIT_OPT_DEFAULTS {.max_iter = 30, .tol = 1e-6, .robust = 1, .robust_scale = 3.0, \
                          .sigma_rel = 0.01}

static PyObject *py_fit_people_ex(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {FIT_KWLIST, "x0", FIT_OPTLIST, "w_gmm", "pose_prior", "w_up",
                             "up_sigma", NULL};
    PyObject *obody, *oR, *ob, *ot, *oc, *okp, *oj, *on, *ox = Py_None, *og = Py_None;
    fit_inputs in = {.o = FIT_OPT_DEFAULTS};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO|O$ididddddddddOdd", kwlist, &obody, &oR,
                                     &ob, &ot, &oc, &okp, &oj, &on, &ox, FIT_OPTPTRS(in.o),
                                     &in.o.w_gmm, &og, &in.o.w_up, &in.o.up_sigma))
        return NULL;
    PyArrayObject *x0 = NULL, *R = NULL, *bo = NULL, *to = NULL, *phi = NULL, *st = NULL, *q = NULL;
    PyObject *res = NULL;
    if (inputs_convert(&in, obody, oR, ob, ot, oc, okp, oj, on) < 0 || gmm_convert(&in, og) < 0)
        goto done;
    const npy_intp n = in.n, K = (npy_intp)in.b.body.n_betas, P = 72 + K + 3;
    if (ox != Py_None) {
        x0 = cliff_py_array_shape(ox, "x0", NPY_FLOAT64, 0, 2, (npy_intp[]){n, P}, "(n, 72 + K + 3)");
        if (!x0 || cliff_py_check_finite(x0, "x0") < 0) goto done;
    }
    R = (PyArrayObject *)PyArray_SimpleNew(4, ((npy_intp[]){n, 24, 3, 3}), NPY_FLOAT64);
    bo = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, K}), NPY_FLOAT64);
    to = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 3}), NPY_FLOAT64);
    phi = (PyArrayObject *)PyArray_SimpleNew(3, ((npy_intp[]){n, 24, 3}), NPY_FLOAT64);
    st = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 5}), NPY_FLOAT64);
    q = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 5}), NPY_FLOAT64);
    if (!R || !bo || !to || !phi || !st || !q) goto done;
    cliff_status s;
    Py_BEGIN_ALLOW_THREADS
    const cliff_fit_input fi = {.n = (size_t)n, .M = (size_t)in.M, .R0 = PyArray_DATA(in.R0),
                                .betas0 = PyArray_DATA(in.b0), .t0 = PyArray_DATA(in.t0),
                                .cam = PyArray_DATA(in.cam), .kp = PyArray_DATA(in.kp),
                                .norm = PyArray_DATA(in.nrm), .kp_joint = PyArray_DATA(in.kj),
                                .x0 = x0 ? PyArray_DATA(x0) : NULL};
    const cliff_fit_output fo = {.R = PyArray_DATA(R), .betas = PyArray_DATA(bo),
                                 .t = PyArray_DATA(to), .phi = PyArray_DATA(phi),
                                 .stats = PyArray_DATA(st), .quality = PyArray_DATA(q)};
    s = cliff_fit_people(&in.b.body, &in.o, &fi, &fo);
    Py_END_ALLOW_THREADS
    if (s != CLIFF_OK) {
        cliff_py_raise(s);
        goto done;
    }
    res = Py_BuildValue("(OOOOOO)", R, bo, to, phi, st, q);
done:
    inputs_release(&in);
    Py_XDECREF(x0), Py_XDECREF(R), Py_XDECREF(bo), Py_XDECREF(to), Py_XDECREF(phi);
    Py_XDECREF(st), Py_XDECREF(q);
    return res;
}

static PyObject *py_fit_evaluate(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {FIT_KWLIST, "R", "betas", "t", FIT_OPTLIST, "w_gmm", "pose_prior",
                             "w_up", "up_sigma", NULL};
    PyObject *obody, *oR, *ob, *ot, *oc, *okp, *oj, *on, *oRf, *obf, *otf, *og = Py_None;
    fit_inputs in = {.o = FIT_OPT_DEFAULTS};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOOOOO|$ididddddddddOdd", kwlist, &obody,
                                     &oR, &ob, &ot, &oc, &okp, &oj, &on, &oRf, &obf, &otf,
                                     FIT_OPTPTRS(in.o), &in.o.w_gmm, &og, &in.o.w_up,
                                     &in.o.up_sigma))
        return NULL;
    PyArrayObject *Rf = NULL, *bf = NULL, *tf = NULL, *out = NULL, *err = NULL;
    PyObject *res = NULL;
    if (inputs_convert(&in, obody, oR, ob, ot, oc, okp, oj, on) < 0 || gmm_convert(&in, og) < 0)
        goto done;
    const npy_intp n = in.n, K = (npy_intp)in.b.body.n_betas;
    Rf = cliff_py_array_shape(oRf, "R", NPY_FLOAT64, 0, 4, (npy_intp[]){n, 24, 3, 3}, "(n, 24, 3, 3)");
    bf = Rf ? cliff_py_array_shape(obf, "betas", NPY_FLOAT64, 0, 2, (npy_intp[]){n, K}, "(n, K)") : NULL;
    tf = bf ? cliff_py_array_shape(otf, "t", NPY_FLOAT64, 0, 2, (npy_intp[]){n, 3}, "(n, 3)") : NULL;
    if (!tf || cliff_py_check_finite(Rf, "R") < 0 || cliff_py_check_finite(bf, "betas") < 0 ||
        cliff_py_check_finite(tf, "t") < 0)
        goto done;
    out = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, 5}), NPY_FLOAT64);
    err = (PyArrayObject *)PyArray_SimpleNew(2, ((npy_intp[]){n, in.M}), NPY_FLOAT64);
    if (!out || !err) goto done;
    cliff_status s;
    Py_BEGIN_ALLOW_THREADS
    const cliff_fit_input fi = {.n = (size_t)n, .M = (size_t)in.M, .R0 = PyArray_DATA(in.R0),
                                .betas0 = PyArray_DATA(in.b0), .t0 = PyArray_DATA(in.t0),
                                .cam = PyArray_DATA(in.cam), .kp = PyArray_DATA(in.kp),
                                .norm = PyArray_DATA(in.nrm), .kp_joint = PyArray_DATA(in.kj)};
    s = cliff_fit_evaluate(&in.b.body, &in.o, &fi, PyArray_DATA(Rf), PyArray_DATA(bf),
                           PyArray_DATA(tf), PyArray_DATA(out), PyArray_DATA(err));
    Py_END_ALLOW_THREADS
    if (s != CLIFF_OK) {
        cliff_py_raise(s);
        goto done;
    }
    res = Py_BuildValue("(OO)", out, err);
done:
    inputs_release(&in);
    Py_XDECREF(Rf), Py_XDECREF(bf), Py_XDECREF(tf), Py_XDECREF(out), Py_XDECREF(err);
    return res;
}

/* A prior term evaluated alone (for the tests): R0 (n, J, 3, 3) and phi (n, J, 3) -> (cost (n,),
 * grad (n, J, 3)); J = 24 (every joint) or 0 (the root only: R0 (n, 3, 3), phi (n, 3)). */
typedef cliff_status (*prior_fn)(const cliff_fit_options *, size_t, const double *, const double *, double *,
                                 double *);

static PyObject *prior_eval(PyObject *oR, PyObject *op, int J, prior_fn eval, const cliff_fit_options *o) {
    PyArrayObject *R0 = NULL, *phi = NULL, *cost = NULL, *grad = NULL;
    PyObject *res = NULL;
    const int lead = J ? 1 : 0; /* the joint axis */
    npy_intp rdims[4] = {-1, J ? J : 3, 3, 3};
    R0 = cliff_py_array_shape(oR, "R0", NPY_FLOAT64, 0, 3 + lead, rdims, J ? "(n, 24, 3, 3)" : "(n, 3, 3)");
    if (!R0) goto done;
    const npy_intp n = PyArray_DIM(R0, 0);
    npy_intp gdims[3] = {n, J ? J : 3, 3};
    phi = cliff_py_array_shape(op, "phi", NPY_FLOAT64, 0, 2 + lead, gdims, J ? "(n, 24, 3)" : "(n, 3)");
    if (!phi || cliff_py_check_finite(R0, "R0") < 0 || cliff_py_check_finite(phi, "phi") < 0)
        goto done;
    cost = (PyArrayObject *)PyArray_SimpleNew(1, ((npy_intp[]){n}), NPY_FLOAT64);
    grad = (PyArrayObject *)PyArray_SimpleNew(2 + lead, gdims, NPY_FLOAT64);
    if (!cost || !grad) goto done;
    cliff_status s;
    Py_BEGIN_ALLOW_THREADS
    s = eval(o, (size_t)n, PyArray_DATA(R0), PyArray_DATA(phi), PyArray_DATA(cost), PyArray_DATA(grad));
    Py_END_ALLOW_THREADS
    if (s != CLIFF_OK) {
        cliff_py_raise(s);
        goto done;
    }
    res = Py_BuildValue("(OO)", cost, grad);
done:
    Py_XDECREF(R0), Py_XDECREF(phi), Py_XDECREF(cost), Py_XDECREF(grad);
    return res;
}

static PyObject *py_fit_pose_prior(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"R0", "phi", "w_gmm", "pose_prior", NULL};
    PyObject *oR, *op, *og;
    fit_inputs in = {.o = FIT_OPT_DEFAULTS};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOdO", kwlist, &oR, &op, &in.o.w_gmm, &og))
        return NULL;
    PyObject *res = NULL;
    if (og == Py_None)
        PyErr_SetString(PyExc_ValueError, "pose_prior: expected the prior's arrays, got None");
    else if (gmm_convert(&in, og) == 0)
        res = prior_eval(oR, op, 24, cliff_fit_pose_prior, &in.o);
    inputs_release(&in);
    return res;
}

static PyObject *py_fit_upright_prior(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"R0", "phi", "w_up", "up_sigma", NULL};
    PyObject *oR, *op;
    cliff_fit_options o = cliff_fit_default_params();
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOdd", kwlist, &oR, &op, &o.w_up, &o.up_sigma))
        return NULL;
    return prior_eval(oR, op, 0, cliff_fit_upright_prior, &o);
}

static PyMethodDef fit_methods[] = {
    {"fit_jacobian", py_fit_jacobian, METH_VARARGS,
     "fit_jacobian(body, R0, phi, betas, t, cam) -> (joints, uv, djoints, duv). See cliff.fit."},
    {"fit_people_ex", (PyCFunction)(void (*)(void))py_fit_people_ex, METH_VARARGS | METH_KEYWORDS,
     "fit_people_ex(body, R0, betas0, t0, cam, kp, kp_joint, norm, x0=None, *, options) -> "
     "(R, betas, t, phi, stats, quality). See cliff.annotate.fit."},
    {"fit_evaluate", (PyCFunction)(void (*)(void))py_fit_evaluate, METH_VARARGS | METH_KEYWORDS,
     "fit_evaluate(body, R0, betas0, t0, cam, kp, kp_joint, norm, R, betas, t, *, options) -> "
     "(out (n,5), kp_err (n,M)). See cliff.annotate.fit."},
    {"fit_pose_prior", (PyCFunction)(void (*)(void))py_fit_pose_prior,
     METH_VARARGS | METH_KEYWORDS,
     "fit_pose_prior(R0, phi, w_gmm, pose_prior) -> (cost (n,), grad (n,24,3)). See "
     "cliff.annotate.fit.pose_prior_cost."},
    {"fit_upright_prior", (PyCFunction)(void (*)(void))py_fit_upright_prior,
     METH_VARARGS | METH_KEYWORDS,
     "fit_upright_prior(R0, phi, w_up, up_sigma) -> (cost (n,), grad (n,3)). See "
     "cliff.annotate.fit.upright_prior_cost."},
    {NULL, NULL, 0, NULL},
};

int cliff_py_fit_init(PyObject *m) { return PyModule_AddFunctions(m, fit_methods); }
