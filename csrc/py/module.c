/* module.c - the cliff._core extension module: multi-phase init, module state, and the
 * process-level functions (threads, oneDNN info). Each area's bindings live in their own file
 * and are registered by the hooks listed in `area_inits`. */
#define PY_ARRAY_UNIQUE_SYMBOL cliff_ARRAY_API
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>

#include "pyutil.h"

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    (void)self;
    int n;
    if (cliff_py_thread_count(arg, "n", "all cores", &n) < 0) return NULL;
    cliff_set_num_threads(n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyLong_FromLong(cliff_get_num_threads());
}

static PyObject *py_dnnl_info(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    int ma, mi, pa;
    cliff_dnnl_version(&ma, &mi, &pa);
    return Py_BuildValue("{s:(iii),s:s}", "version", ma, mi, pa, "isa", cliff_dnnl_isa());
}

static PyObject *py_facts(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    const float *m = cliff_imagenet_mean, *s = cliff_imagenet_std;
    return Py_BuildValue("{s:i,s:i,s:(ddd),s:(ddd),s:d}", "crop_height", CLIFF_CROP_HEIGHT,
                         "crop_width", CLIFF_CROP_WIDTH, "imagenet_mean", (double)m[0], (double)m[1],
                         (double)m[2], "imagenet_std", (double)s[0], (double)s[1], (double)s[2],
                         "box_rescale", CLIFF_BOX_RESCALE);
}

static PyMethodDef module_methods[] = {
    {"facts", py_facts, METH_NOARGS,
     "facts() -> dict: the model constants the core uses (crop size, ImageNet statistics)."},
    {"set_num_threads", py_set_num_threads, METH_O,
     "set_num_threads(n) -> None. Threads for the core (0 = all cores)."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int."},
    {"dnnl_info", py_dnnl_info, METH_NOARGS,
     "dnnl_info() -> {'version': (major, minor, patch), 'isa': str}."},
    {NULL, NULL, 0, NULL},
};

typedef int (*area_init_fn)(PyObject *);
static const area_init_fn area_inits[] = {
    cliff_py_geometry_init,
    cliff_py_crop_init,
    cliff_py_render_init,
    cliff_py_smpl_init,
    cliff_py_fit_init,
    cliff_py_model_init,
    cliff_py_estimate_init,
    cliff_py_arch_init,
    cliff_py_detect_init,
    cliff_py_fov_init,
    NULL,
};

static int module_exec(PyObject *m) {
    if (PyArray_ImportNumPyAPI() < 0) return -1;
    for (size_t i = 0; area_inits[i]; i++)
        if (area_inits[i](m) < 0) return -1;
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg) {
    cliff_state *st = cliff_py_state(m);
    if (st) {
        Py_VISIT(st->smpl_type);
        Py_VISIT(st->model_type);
        Py_VISIT(st->estimator_type);
    }
    return 0;
}

static int module_clear(PyObject *m) {
    cliff_state *st = cliff_py_state(m);
    if (st) {
        Py_CLEAR(st->smpl_type);
        Py_CLEAR(st->model_type);
        Py_CLEAR(st->estimator_type);
    }
    return 0;
}

static void module_free(void *m) { module_clear((PyObject *)m); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* Not free-threading ready: Model's in-use counter (close() while a call runs, see
     * model.c) and the consume-on-load list edits rely on the GIL. A free-threaded build
     * therefore re-enables the GIL when it imports this module. */
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cliff._core",
    .m_doc = "C core of cliff: geometry, SMPL, networks on oneDNN, crops, rendering.",
    .m_size = sizeof(cliff_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&module_def); }
