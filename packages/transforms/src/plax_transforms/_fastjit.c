/* An optional accelerator for jit's hottest path: JitFunction's base class, whose tp_call runs
 * a call of one Array that matches the last call (JitFunction._last) without a Python frame:
 * the same checks as jit.py's pure-Python `_PyCall.__call__` (the argument's aval and backend
 * by identity, config.jit_state, the trace, the default backend of an uncommitted argument),
 * the backend's runner (or the two calls its `launch` names), and the result Array. Anything
 * else goes to `self._call_arrays(args, kwargs)`. Built by `pip install` when a C compiler
 * is present (optional: jit.py falls back to Python without it). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *last;
} JitBase;

/* set once by setup() */
static PyTypeObject *array_type = NULL;
static Py_ssize_t off_buf, off_aval, off_backend, off_committed;
static PyObject *config = NULL, *ctx = NULL, *eval_trace = NULL, *default_backends = NULL;
static PyObject *config_dict = NULL;  /* config.__dict__ */
static PyObject *str_jit_state, *str_trace, *str_call_arrays, *str_failed, *str_outputs, *str_dict;

/* The calling thread's attribute dict of the trace context (a threading.local), cached for the
 * last thread that asked: PyThreadState_GetID is unique for the interpreter's life, so a new
 * thread never finds another's dict. */
static PyObject *ldict = NULL;
static uint64_t ldict_thread = 0;

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

static PyObject *slow(JitBase *self, PyObject *args, PyObject *kwargs)
{
    PyObject *kw = kwargs ? (Py_INCREF(kwargs), kwargs) : PyDict_New();
    if (kw == NULL)
        return NULL;
    PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, str_call_arrays, args, kw, NULL);
    Py_DECREF(kw);
    return r;
}

#define MISS 2  /* hot_call's answer: not the hot path */

/* The hot path on `hot` (a strong reference held by the caller): *res the result, or NULL with
 * an exception set; returns MISS when the call is not the hot path's. */
static int hot_call(JitBase *self, PyObject *hot, PyObject *x, PyObject *args, PyObject **res)
{
    *res = NULL;
    PyObject *backend = PyTuple_GET_ITEM(hot, 2);
    PyObject *aval = SLOT(x, off_aval);
    if (aval == NULL || aval != PyTuple_GET_ITEM(hot, 6) || SLOT(x, off_backend) != backend)
        return MISS;
    /* config.jit_state, compared by identity (the config's interned tuple): read from the
     * instance dict, where it is while no thread overrides an option it derives from (a plain
     * attribute lookup would find it there too, after the type's); else the attribute. */
    PyObject *state = PyDict_GetItemWithError(config_dict, str_jit_state);
    if (state == NULL) {
        if (PyErr_Occurred())
            return 0;
        state = PyObject_GetAttr(config, str_jit_state);
        if (state == NULL)
            return 0;
        Py_DECREF(state);
    }
    if (state != PyTuple_GET_ITEM(hot, 7))
        return MISS;
    /* trace_context.trace: this thread's attribute dict of the threading.local */
    uint64_t thread = PyThreadState_GetID(PyThreadState_Get());
    if (ldict == NULL || thread != ldict_thread) {
        PyObject *d = PyObject_GetAttr(ctx, str_dict);
        if (d == NULL)
            return 0;
        if (!PyDict_CheckExact(d)) {
            Py_DECREF(d);
            return MISS;
        }
        Py_XSETREF(ldict, d);
        ldict_thread = thread;
    }
    PyObject *trace = PyDict_GetItemWithError(ldict, str_trace);
    if (trace == NULL) {
        if (PyErr_Occurred())
            return 0;
        return MISS;
    }
    if (trace != eval_trace)
        return MISS;
    int committed = PyTuple_GET_ITEM(hot, 8) == Py_True;
    if (!committed) {
        PyObject *c = SLOT(x, off_committed);
        committed = c == Py_True ? 1 : c == Py_False || c == NULL ? 0 : -2;
        if (committed == -2)
            return MISS;
    }
    if (!committed) {  /* uncommitted: only if its backend is the default one */
        PyObject *d = PyDict_GetItemWithError(default_backends, PyTuple_GET_ITEM(hot, 9));
        if (d == NULL && PyErr_Occurred())
            return 0;
        if (d != backend)
            return MISS;
    }
    PyObject *buf = SLOT(x, off_buf);
    if (buf == NULL)
        return MISS;
    PyObject *consts = PyTuple_GET_ITEM(hot, 5);
    PyObject *bufs;
    if (consts == Py_None) {
        bufs = PyList_New(1);
        if (bufs == NULL)
            return 0;
        Py_INCREF(buf);
        PyList_SET_ITEM(bufs, 0, buf);
    } else {
        bufs = PySequence_List(consts);
        if (bufs == NULL || PyList_Append(bufs, buf) < 0) {
            Py_XDECREF(bufs);
            return 0;
        }
    }
    /* the runner, or the two calls it describes (its `launch`: f, method, arg): the same
     * result without the runner's Python frame */
    PyObject *launch = PyTuple_GET_ITEM(hot, 10), *outs;
    if (PyTuple_CheckExact(launch) && PyTuple_GET_SIZE(launch) == 3) {
        PyObject *r = PyObject_CallOneArg(PyTuple_GET_ITEM(launch, 0), bufs);
        outs = r == NULL ? NULL : PyObject_CallMethodOneArg(r, PyTuple_GET_ITEM(launch, 1),
                                                            PyTuple_GET_ITEM(launch, 2));
        Py_XDECREF(r);
    } else {
        outs = PyObject_CallOneArg(PyTuple_GET_ITEM(hot, 3), bufs);
    }
    Py_DECREF(bufs);
    if (outs == NULL) {  /* the plax error for a deleted (donated) Array, else the backend's */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, str_failed, hot, args, NULL);
        if (r == NULL) {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            return 0;
        }
        Py_DECREF(r);
        PyErr_Restore(type, value, tb);
        return 0;
    }
    PyObject *out_aval = PyTuple_GET_ITEM(hot, 4);
    if (out_aval == Py_None) {  /* several outputs: in their tree, by Python */
        *res = PyObject_CallMethodObjArgs((PyObject *)self, str_outputs, hot, outs,
                                          committed ? Py_True : Py_False, NULL);
        Py_DECREF(outs);
        return 0;
    }
    PyObject *first = PySequence_GetItem(outs, 0);  /* one output: its Array, made here */
    Py_DECREF(outs);
    if (first == NULL)
        return 0;
    PyObject *a = array_type->tp_alloc(array_type, 0);
    if (a == NULL) {
        Py_DECREF(first);
        return 0;
    }
    SLOT(a, off_buf) = first;  /* (the new reference) */
    Py_INCREF(out_aval);
    SLOT(a, off_aval) = out_aval;
    Py_INCREF(backend);
    SLOT(a, off_backend) = backend;
    PyObject *c = committed ? Py_True : Py_False;
    Py_INCREF(c);
    SLOT(a, off_committed) = c;
    *res = a;
    return 0;
}

static PyObject *jit_call(JitBase *self, PyObject *args, PyObject *kwargs)
{
    PyObject *hot = self->last;
    if (array_type == NULL || hot == NULL || !PyTuple_CheckExact(hot) ||
            PyTuple_GET_SIZE(hot) < 11 || PyTuple_GET_SIZE(args) != 1 ||
            (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) ||
            Py_TYPE(PyTuple_GET_ITEM(args, 0)) != array_type)
        return slow(self, args, kwargs);
    /* a strong reference: another thread may replace self->last meanwhile */
    Py_INCREF(hot);
    PyObject *res;
    int miss = hot_call(self, hot, PyTuple_GET_ITEM(args, 0), args, &res);
    Py_DECREF(hot);
    return miss == MISS ? slow(self, args, kwargs) : res;
}

static int jit_traverse(JitBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->last);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int jit_clear(JitBase *self)
{
    Py_CLEAR(self->last);
    return 0;
}

static void jit_dealloc(JitBase *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    jit_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMemberDef jit_members[] = {
    {"_last", T_OBJECT, offsetof(JitBase, last), 0, "the last call's hot-path tuple"},
    {NULL}
};

static PyType_Slot jit_slots[] = {
    {Py_tp_call, jit_call},
    {Py_tp_traverse, jit_traverse},
    {Py_tp_clear, jit_clear},
    {Py_tp_dealloc, jit_dealloc},
    {Py_tp_members, jit_members},
    {Py_tp_doc, "jit's hot path in C (see plax_transforms.jit)"},
    {0, NULL}
};

static PyType_Spec jit_spec = {
    "plax_transforms._fastjit.JitBase", sizeof(JitBase), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, jit_slots
};

static int slot_offset(PyObject *type, const char *name, Py_ssize_t *off)
{
    PyObject *d = PyDict_GetItemString(((PyTypeObject *)type)->tp_dict, name);
    if (d == NULL || !PyObject_TypeCheck(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "setup: %s is not a slot of the Array type", name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "setup: slot %s is not an object slot", name);
        return -1;
    }
    *off = m->offset;
    return 0;
}

static PyObject *setup(PyObject *mod, PyObject *args)
{
    PyObject *arr, *cfg, *c, *ev, *db;
    if (!PyArg_ParseTuple(args, "O!OOOO!", &PyType_Type, &arr, &cfg, &c, &ev, &PyDict_Type, &db))
        return NULL;
    if (slot_offset(arr, "_buf", &off_buf) < 0 || slot_offset(arr, "aval", &off_aval) < 0 ||
            slot_offset(arr, "_backend", &off_backend) < 0 ||
            slot_offset(arr, "_committed", &off_committed) < 0)
        return NULL;
    Py_INCREF(arr);
    Py_INCREF(cfg);
    Py_INCREF(c);
    Py_INCREF(ev);
    Py_INCREF(db);
    Py_XSETREF(config, cfg);
    Py_XSETREF(ctx, c);
    Py_XSETREF(eval_trace, ev);
    Py_XSETREF(default_backends, db);
    Py_XSETREF(array_type, (PyTypeObject *)arr);
    PyObject *cd = PyObject_GenericGetDict(cfg, NULL);
    if (cd == NULL)
        return NULL;
    Py_XSETREF(config_dict, cd);
    Py_CLEAR(ldict);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(Array, config, trace_context, EVAL_TRACE, default_backends)"},
    {NULL}
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_fastjit", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastjit(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (m == NULL)
        return NULL;
    str_jit_state = PyUnicode_InternFromString("jit_state");
    str_trace = PyUnicode_InternFromString("trace");
    str_call_arrays = PyUnicode_InternFromString("_call_arrays");
    str_failed = PyUnicode_InternFromString("_hot_failed");
    str_outputs = PyUnicode_InternFromString("_hot_outputs");
    str_dict = PyUnicode_InternFromString("__dict__");
    PyObject *t = PyType_FromSpec(&jit_spec);
    if (t == NULL || PyModule_AddObject(m, "JitBase", t) < 0) {
        Py_XDECREF(t);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
