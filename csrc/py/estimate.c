/* estimate.c (bindings) - the heap type cliff._core.Estimator over cliff_estimator: the whole
 * pipeline (crop -> network -> SMPL -> projection) in one C call with the GIL released, for a
 * batch of images. Arguments arrive validated by cliff.pipeline.Estimator; shapes are
 * re-checked here so that no call can crash. The Estimator holds references to the
 * cliff._core.Model and cliff._core.SMPL objects whose handles its cliff_estimator borrows. */
#include "pyutil.h"

typedef struct {
    PyObject_HEAD
    cliff_estimator *est;
    PyObject *model; /* cliff._core.Model: keeps the borrowed cliff_net alive */
    PyObject *smpl;  /* cliff._core.SMPL: keeps the borrowed cliff_smpl alive */
    npy_intp nj, nb, nfeat, nv, nout; /* output sizes: the network's family and the body's */
} EstimatorObject;

static PyObject *Estimator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"model", "smpl", "rescale", "ipp", "n_iter", NULL};
    PyObject *model, *smpl;
    double rescale = 1.1;
    int ipp = -1; /* not given: the family's own resize (CLIFF_RESIZE_AUTO) */
    Py_ssize_t n_iter = 3;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|d$pn:Estimator", kwlist, &model, &smpl,
                                     &rescale, &ipp, &n_iter))
        return NULL;
    cliff_state *state = PyType_GetModuleState(type);
    if (!state) return NULL;
    if (!PyObject_TypeCheck(model, state->model_type))
        return PyErr_Format(PyExc_TypeError, "model: expected a cliff._core.Model, got %.80s",
                            Py_TYPE(model)->tp_name);
    if (!PyObject_TypeCheck(smpl, state->smpl_type))
        return PyErr_Format(PyExc_TypeError, "smpl: expected a cliff._core.SMPL, got %.80s",
                            Py_TYPE(smpl)->tp_name);
    if (n_iter < 0 || n_iter > 100)
        return PyErr_Format(PyExc_ValueError, "n_iter: expected 0..100, got %zd", n_iter);
    cliff_estimator_params p = cliff_estimator_default_params();
    p.rescale = rescale;
    p.resize = ipp < 0 ? CLIFF_RESIZE_AUTO : ipp ? CLIFF_RESIZE_IPP : CLIFF_RESIZE_OPENCV;
    p.n_iter = (size_t)n_iter;
    cliff_net *net = cliff_py_model_acquire(model);
    if (!net) return NULL;
    cliff_estimator *est = NULL;
    cliff_status st = cliff_estimator_create(net, cliff_py_smpl_handle(smpl), &p, &est);
    cliff_net_dims d;
    cliff_net_get_dims(net, &d);
    cliff_py_model_release(model);
    if (st) return cliff_py_raise(st);
    EstimatorObject *self = (EstimatorObject *)type->tp_alloc(type, 0);
    if (!self) {
        cliff_estimator_free(est);
        return NULL;
    }
    self->est = est;
    self->nj = d.pose6d / 6;
    self->nb = d.betas;
    self->nfeat = d.features;
    self->nv = (npy_intp)cliff_body_num_vertices(cliff_py_smpl_handle(smpl));
    self->nout = (npy_intp)cliff_body_num_output_joints(cliff_py_smpl_handle(smpl));
    self->model = Py_NewRef(model);
    self->smpl = Py_NewRef(smpl);
    return (PyObject *)self;
}

static int Estimator_traverse(EstimatorObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->model);
    Py_VISIT(self->smpl);
    return 0;
}

static int Estimator_clear(EstimatorObject *self) {
    Py_CLEAR(self->model);
    Py_CLEAR(self->smpl);
    return 0;
}

static void Estimator_dealloc(EstimatorObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    cliff_estimator_free(self->est); /* before the handles it borrows can go */
    self->est = NULL;
    Estimator_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* run(images, boxes, cameras, bgr, vertices=True) -> dict of arrays over all people.
 * images: sequence of F uint8 (H, W, 3) arrays; boxes: sequence of F float64 (n_k, 4);
 * cameras: float64 (F, 4) = [fx, fy, cx, cy]; bgr: bool for all images. */
static PyObject *Estimator_run(EstimatorObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"images", "boxes", "cameras", "bgr", "vertices", NULL};
    PyObject *oimages, *oboxes, *ocams;
    int bgr = 0, want_vertices = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|p$p:run", kwlist, &oimages, &oboxes, &ocams,
                                     &bgr, &want_vertices))
        return NULL;
    PyObject *images = PySequence_Fast(oimages, "images: expected a sequence of arrays");
    if (!images) return NULL;
    PyObject *boxes = PySequence_Fast(oboxes, "boxes: expected a sequence of arrays");
    if (!boxes) {
        Py_DECREF(images);
        return NULL;
    }
    const Py_ssize_t F = PySequence_Fast_GET_SIZE(images);
    PyObject *keep = PyList_New(0); /* converted arrays, alive until the call returns */
    PyArrayObject *cams = NULL, *o[13] = {NULL};
    cliff_frame *frames = NULL;
    PyObject *res = NULL;
    if (!keep) goto done;
    if (PySequence_Fast_GET_SIZE(boxes) != F) {
        PyErr_Format(PyExc_ValueError, "boxes: expected %zd box arrays (one per image), got %zd", F,
                     PySequence_Fast_GET_SIZE(boxes));
        goto done;
    }
    const npy_intp dcam[2] = {F, 4};
    if (!(cams = cliff_py_array_shape(ocams, "cameras", NPY_FLOAT64, 0, 2, dcam, "(F, 4)"))) goto done;
    frames = PyMem_Calloc(F ? (size_t)F : 1, sizeof *frames);
    if (!frames) {
        PyErr_NoMemory();
        goto done;
    }
    npy_intp N = 0;
    const double *cam = PyArray_DATA(cams);
    for (Py_ssize_t k = 0; k < F; k++) {
        static const npy_intp dimg[3] = {-1, -1, 3}, dbox[2] = {-1, 4};
        PyArrayObject *im = cliff_py_array_shape(PySequence_Fast_GET_ITEM(images, k), "image",
                                                 NPY_UINT8, 0, 3, dimg, "(H, W, 3) uint8");
        if (!im || PyList_Append(keep, (PyObject *)im) < 0) {
            Py_XDECREF(im);
            goto done;
        }
        Py_DECREF(im);
        PyArrayObject *bx = cliff_py_array_shape(PySequence_Fast_GET_ITEM(boxes, k), "xyxy",
                                                 NPY_FLOAT64, 0, 2, dbox, "(N, 4)");
        if (!bx || PyList_Append(keep, (PyObject *)bx) < 0) {
            Py_XDECREF(bx);
            goto done;
        }
        Py_DECREF(bx);
        frames[k] = (cliff_frame){.pixels = PyArray_DATA(im),
                                  .height = (size_t)PyArray_DIM(im, 0),
                                  .width = (size_t)PyArray_DIM(im, 1),
                                  .bgr = bgr != 0,
                                  .xyxy = PyArray_DATA(bx),
                                  .n_boxes = (size_t)PyArray_DIM(bx, 0),
                                  .camera = {cam[4 * k], cam[4 * k + 1], cam[4 * k + 2], cam[4 * k + 3]}};
        N += PyArray_DIM(bx, 0);
    }
    /* rotmat, pose, betas, cam_crop, t_full, bbox_info, focal, vertices, joints, joints2d, center, scale */
    static const char *names[13] = {"rotmat", "pose", "betas", "cam_crop", "t_full", "bbox_info",
                                    "focal", "vertices", "joints", "joints2d", "center", "scale",
                                    "features"};
    const npy_intp shp[13][4] = {{N, self->nj, 3, 3}, {N, 3 * self->nj}, {N, self->nb}, {N, 3}, {N, 3}, {N, 3},
                                 {N}, {N, self->nv, 3}, {N, self->nout, 3}, {N, self->nout, 2}, {N, 2}, {N},
                                 {N, self->nfeat}};
    const int nd[13] = {4, 2, 2, 2, 2, 2, 1, 3, 3, 3, 2, 1, 2};
    for (int i = 0; i < 13; i++) {
        if (i == 7 && !want_vertices) continue;
        o[i] = (PyArrayObject *)PyArray_SimpleNew(nd[i], shp[i], i == 10 || i == 11 ? NPY_FLOAT64 : NPY_FLOAT32);
        if (!o[i]) goto done;
    }
#define F32(i) (o[i] ? (float *)PyArray_DATA(o[i]) : NULL)
    const cliff_estimate_out out = {F32(0), F32(1), F32(2), F32(3), F32(4), F32(5), F32(6),
                                    F32(7), F32(8), F32(9), (double *)PyArray_DATA(o[10]),
                                    (double *)PyArray_DATA(o[11]), F32(12)};
#undef F32
    cliff_net *net = cliff_py_model_acquire(self->model);
    if (!net) goto done;
    cliff_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cliff_estimate_batch(self->est, frames, (size_t)F, &out);
    Py_END_ALLOW_THREADS
    cliff_py_model_release(self->model);
    if (st) {
        cliff_py_raise(st);
        goto done;
    }
    if (!(res = PyDict_New())) goto done;
    for (int i = 0; i < 13; i++)
        if (o[i] && PyDict_SetItemString(res, names[i], (PyObject *)o[i]) < 0) {
            Py_CLEAR(res);
            break;
        }
done:
    PyMem_Free(frames);
    Py_XDECREF(keep);
    Py_XDECREF(cams);
    for (int i = 0; i < 13; i++) Py_XDECREF(o[i]);
    Py_DECREF(images);
    Py_DECREF(boxes);
    return res;
}

static PyMethodDef Estimator_methods[] = {
    {"run", (PyCFunction)(void (*)(void))Estimator_run, METH_VARARGS | METH_KEYWORDS,
     "run(images, boxes, cameras, bgr=False, *, vertices=True) -> dict of arrays over the people\n"
     "of all images (image order, then box order). images: F uint8 (H, W, 3); boxes: F float64\n"
     "(n_k, 4) xyxy pixels; cameras: float64 (F, 4) = [fx, fy, cx, cy]. Validated by\n"
     "cliff.Estimator; one C call with the GIL released."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Estimator_slots[] = {
    {Py_tp_new, Estimator_new},
    {Py_tp_dealloc, Estimator_dealloc},
    {Py_tp_traverse, Estimator_traverse},
    {Py_tp_clear, Estimator_clear},
    {Py_tp_methods, Estimator_methods},
    {Py_tp_doc, "Estimator(model, smpl, rescale=1.1, *, ipp=<the family's resize>, n_iter=3): the whole CLIFF "
                "pipeline in one C call (use cliff.Estimator)."},
    {0, NULL},
};

static PyType_Spec Estimator_spec = {
    .name = "cliff._core.Estimator",
    .basicsize = sizeof(EstimatorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Estimator_slots,
};

int cliff_py_estimate_init(PyObject *m) {
    PyObject *t = PyType_FromModuleAndSpec(m, &Estimator_spec, NULL);
    if (!t) return -1;
    cliff_py_state(m)->estimator_type = (PyTypeObject *)t;
    return PyModule_AddObjectRef(m, "Estimator", t);
}
