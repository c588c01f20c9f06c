"""JAX's debugging guards: `debug_key_reuse` (typed keys consumed twice raise KeyReuseError,
eagerly, inside jit, across jit calls, under vmap, in loop bodies; each scenario run in JAX
and in plax, same outcome and message), `array_garbage_collection_guard` (an Array freed by
the cycle collector is logged, or aborts the process: checked in a subprocess) and
`thread_guard`'s option and context manager (its multi-process check runs in
tests/test_distributed.py)."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import threading
import types

import pytest
from conftest import HAVE_JAX

import plax
from plax.errors import KeyReuseError

if HAVE_JAX:
    import jax


def _ns(mod):
    """The names a scenario uses, from jax or plax."""
    return types.SimpleNamespace(R=mod.random, lax=mod.lax, jit=mod.jit, vmap=mod.vmap,
                                 grad=mod.grad, checkpoint=mod.checkpoint,
                                 key=lambda: mod.random.key(0))


# name -> scenario(ns); each returns normally or raises KeyReuseError
def _two_samplers(m):
    a = m.key()
    m.R.normal(a)
    m.R.uniform(a)


def _sampler_after_split(m):
    a = m.key()
    m.R.split(a)
    m.R.uniform(a)


def _split_twice(m):
    a = m.key()
    m.R.split(a)
    m.R.split(a)


def _bits_then_randint(m):
    a = m.key()
    m.R.bits(a)
    m.R.randint(a, (), 0, 3)


def _fold_in_twice(m):  # fold_in does not consume
    a = m.key()
    m.R.fold_in(a, 1)
    m.R.fold_in(a, 2)
    m.R.normal(a)


def _clone(m):
    a = m.key()
    m.R.normal(m.R.clone(a))
    m.R.uniform(a)


def _key_data_and_printing(m):
    a = m.key()
    m.R.key_data(a)
    repr(a)
    str(a)
    m.R.normal(a)


def _raw_keys_unchecked(m):
    a = m.R.PRNGKey(0)
    m.R.normal(a)
    m.R.normal(a)


def _wrapped_data_is_fresh(m):
    a = m.key()
    d = m.R.key_data(a)
    m.R.normal(a)
    m.R.normal(m.R.wrap_key_data(d))


def _index_distinct(m):
    ks = m.R.split(m.key(), 2)
    m.R.normal(ks[0])
    m.R.normal(ks[1])


def _index_same(m):
    ks = m.R.split(m.key(), 2)
    m.R.normal(ks[0])
    m.R.normal(ks[0])


def _jit_consumes_twice_inside(m):
    m.jit(lambda a: m.R.normal(a) + m.R.uniform(a))(m.key())


def _jit_alias_inside(m):
    def f(a):
        b = a
        return m.R.normal(a), m.R.normal(b)
    m.jit(f)(m.key())


def _jit_called_twice(m):
    f = m.jit(lambda a: m.R.normal(a))
    a = m.key()
    f(a)
    f(a)


def _jit_then_eager(m):
    a = m.key()
    m.jit(lambda a: m.R.normal(a))(a)
    m.R.normal(a)


def _jit_second_argument(m):
    f = m.jit(lambda x, a: m.R.normal(a) + x)
    a = m.key()
    f(1.0, a)
    f(1.0, a)


def _jit_passthrough(m):  # a returned key is a fresh one; the argument is not consumed
    a = m.key()
    b = m.jit(lambda a: a)(a)
    m.R.normal(a)
    m.R.normal(b)


def _jit_forwards_consumed(m):  # a key returned unchanged is as consumed as the argument
    a = m.key()
    _, b = m.jit(lambda k: (m.R.normal(k), k))(a)
    m.R.normal(b)


def _grad_key_argument(m):
    a = m.key()
    m.grad(lambda x, k: x * m.R.normal(k))(1.0, a)
    m.R.normal(a)


def _checkpoint_key_argument(m):
    a = m.key()
    m.checkpoint(lambda x, k: x * m.R.normal(k))(1.0, a)
    m.R.normal(a)


def _vmap_then_index(m):
    ks = m.R.split(m.key(), 3)
    m.vmap(m.R.normal)(ks)
    m.R.normal(ks[0])


def _vmap_inside(m):
    m.vmap(lambda a: m.R.normal(a) + m.R.uniform(a))(m.R.split(m.key(), 3))


def _grad_closure(m):
    a = m.key()
    m.grad(lambda x: x * m.R.normal(a) + m.R.uniform(a))(1.0)


def _scan_carry_reused(m):
    m.lax.scan(lambda c, _: (c, m.R.normal(c)), m.key(), None, length=3)


def _scan_carry_split(m):
    def body(c, _):
        c, s = m.R.split(c)
        return c, m.R.normal(s)
    m.lax.scan(body, m.key(), None, length=3)


def _scan_fresh_carry_consumed(m):
    def body(c, _):
        c = m.R.split(c)[0]
        return c, m.R.normal(c)
    m.lax.scan(body, m.key(), None, length=3)


def _scan_then_eager(m):
    def body(c, _):
        c, s = m.R.split(c)
        return c, m.R.normal(s)
    a = m.key()
    m.lax.scan(body, a, None, length=3)
    m.R.normal(a)


def _fori_closure(m):
    a = m.key()
    m.lax.fori_loop(0, 3, lambda i, c: c + m.R.normal(a), 0.0)


def _fori_closure_in_jit(m):
    m.jit(lambda a: m.lax.fori_loop(0, 3, lambda i, c: c + m.R.normal(a), 0.0))(m.key())


def _fori_carry_split(m):
    def body(i, c):
        k1, k2 = m.R.split(c[0])
        return k1, c[1] + m.R.normal(k2)
    m.lax.fori_loop(0, 3, body, (m.key(), 0.0))


def _while_carry_reused(m):
    m.lax.while_loop(lambda c: c[1] < 3.0, lambda c: (c[0], c[1] + m.R.normal(c[0])),
                     (m.key(), 0.0))


def _while_carry_split(m):
    def body(c):
        k1, k2 = m.R.split(c[0])
        return k1, c[1] + m.R.normal(k2)
    m.lax.while_loop(lambda c: c[1] < 3.0, body, (m.key(), 0.0))


def _cond_then_eager(m):
    a = m.key()
    m.lax.cond(True, lambda a: m.R.normal(a), lambda a: m.R.uniform(a), a)
    m.R.normal(a)


def _switch_then_eager(m):
    a = m.key()
    m.lax.switch(0, [lambda a: m.R.normal(a), lambda a: 1.0], a)
    m.R.normal(a)


SCENARIOS = {f.__name__[1:]: f for f in [
    _two_samplers, _sampler_after_split, _split_twice, _bits_then_randint, _fold_in_twice,
    _clone, _key_data_and_printing, _raw_keys_unchecked, _wrapped_data_is_fresh,
    _index_distinct, _index_same, _jit_consumes_twice_inside, _jit_alias_inside,
    _jit_called_twice, _jit_then_eager, _jit_second_argument, _jit_passthrough,
    _jit_forwards_consumed, _grad_key_argument, _checkpoint_key_argument,
    _vmap_then_index, _vmap_inside, _grad_closure, _scan_carry_reused, _scan_carry_split,
    _scan_fresh_carry_consumed, _scan_then_eager, _fori_closure, _fori_closure_in_jit,
    _fori_carry_split,
    _while_carry_reused, _while_carry_split, _cond_then_eager, _switch_then_eager]}


def _outcome(fn, mod, err_type):
    try:
        fn(_ns(mod))
    except err_type as e:
        return str(e).split("\n")[0].split(":")[0]
    return "ok"


# where plax's checker is stricter than JAX's: a scan body that consumes the fresh key it
# returns as the carry consumes it again at the next iteration; JAX's signature check (sinks
# of the carry inputs must be sourced on output) misses it
STRICTER = {"scan_fresh_carry_consumed": "scan body function leads to key reuse when "
                                         "repeatedly executed, because consumed inputs don't "
                                         "match sourced outputs"}


@pytest.mark.skipif(not HAVE_JAX, reason="jax is not importable here")
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_debug_key_reuse_as_jax(name):
    fn = SCENARIOS[name]
    with jax.debug_key_reuse(True):
        want = _outcome(fn, jax, jax.errors.KeyReuseError)
    with plax.debug_key_reuse(True):
        got = _outcome(fn, plax, KeyReuseError)
    if name in STRICTER:
        assert want == "ok" and got == STRICTER[name]
    else:
        assert got == want


def test_debug_key_reuse_off_and_option():
    a = plax.random.key(0)
    x = plax.random.normal(a)
    assert float(plax.random.normal(a)) == float(x)  # off (the default): reuse allowed
    f = plax.jit(lambda k: plax.random.normal(k))
    f(a)
    f(a)
    plax.config.update("debug_key_reuse", True)
    try:
        b = plax.random.key(1)
        f(b)  # traced again (the option is part of jit's trace context), then consumed
        with pytest.raises(KeyReuseError, match="Previously-consumed key passed to "
                                                "jit-compiled function at index 0"):
            f(b)
        c = plax.random.key(2)
        assert float(plax.random.normal(plax.random.clone(c))) == float(
            plax.random.normal(c))  # a clone gives the same numbers
    finally:
        plax.config.reset("debug_key_reuse")
    with pytest.raises(TypeError, match="takes a bool"):
        with plax.debug_key_reuse("maybe"):
            pass


def test_every_sampler_consumes_its_key_once():
    """A sampler accepts a fresh key with the checker on and refuses it the second time: no
    sampler consumes its own key twice internally (they unwrap it once, in check_key)."""
    R = plax.random
    calls = {  # the samplers that draw more than once (two streams, a permutation)
        "uniform": lambda k: R.uniform(k, (2,)), "split": lambda k: R.split(k),
        "choice": lambda k: R.choice(k, 4, (2,), replace=False),
        "beta": lambda k: R.beta(k, 2.0, 3.0, (2,)), "t": lambda k: R.t(k, 3.0, (2,)),
        "orthogonal": lambda k: R.orthogonal(k, 2),
        "multivariate_normal": lambda k: R.multivariate_normal(
            k, plax.numpy.zeros(2), plax.numpy.eye(2)),
    }
    with plax.debug_key_reuse(True):
        for name, call in calls.items():
            k = R.key(0)
            call(k)
            with pytest.raises(KeyReuseError, match="Previously-consumed key"):
                call(k)
                pytest.fail(f"{name}: a consumed key was accepted")


_GC_SCRIPT = """
import gc, logging, sys
import numpy as np
import plax
logging.basicConfig(level=logging.ERROR, stream=sys.stdout, format="%(name)s %(message)s")
gc.disable()
def cycle():
    box = [plax.numpy.asarray(np.ones(3))]
    box.append(box)  # a reference cycle: only the collector frees the Array
with plax.array_garbage_collection_guard(sys.argv[1]):
    x = plax.numpy.asarray(np.ones(3))
    del x  # reference counting: never reported
    cycle()
    gc.collect()
print("survived", flush=True)
"""


@pytest.mark.parametrize("level", ["allow", "log", "fatal"])
def test_array_garbage_collection_guard(level):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run([sys.executable, "-c", _GC_SCRIPT, level], capture_output=True,
                       text=True, env=env, timeout=120)
    said = "was deleted by the Python garbage collector instead of reference counting"
    if level == "allow":
        assert r.returncode == 0 and "survived" in r.stdout and said not in r.stdout + r.stderr
    elif level == "log":
        assert r.returncode == 0 and "survived" in r.stdout, r.stderr[-2000:]
        assert r.stdout.count(said) == 1 and "plax.array" in r.stdout  # one Array, logged
    else:  # as JAX's LOG(FATAL): the process aborts
        assert r.returncode == -6 and "survived" not in r.stdout, r.stderr[-2000:]
        assert said in r.stderr


def test_array_garbage_collection_guard_in_process(caplog):
    """The log level in this process: a cycle's Array logged, a reference-counted one not;
    off again, Array has no finalizer (nothing on the dealloc path)."""
    from plax._src.array import Array
    gc.collect()
    with plax.array_garbage_collection_guard("log"), caplog.at_level(logging.ERROR,
                                                                     "plax.array"):
        assert "__del__" in Array.__dict__
        x = plax.numpy.ones(2)
        del x
        assert not caplog.records
        box = [plax.numpy.ones(2)]
        box.append(box)
        del box
        gc.collect()
        assert len(caplog.records) == 1
        assert "garbage collector" in caplog.records[0].getMessage()
    assert "__del__" not in Array.__dict__
    with pytest.raises(ValueError):
        with plax.array_garbage_collection_guard("sometimes"):
            pass


def test_thread_guard_context_manager():
    """The guard belongs to the thread that set it (the check itself runs in
    tests/test_distributed.py's two-process run): another thread setting it meanwhile raises
    JAX's error; nested in the same thread, and again once it ended, it is fine."""
    from plax._src import distributed
    errors = []

    def other():
        try:
            with plax.thread_guard(True):
                pass
        except RuntimeError as e:
            errors.append(str(e))
    with plax.thread_guard(True):
        assert plax.config.thread_guard
        with plax.thread_guard(True):
            distributed.check_thread_guard()  # its own thread: allowed
        t = threading.Thread(target=other)
        t.start()
        t.join()
        t = threading.Thread(target=lambda: errors.append(
            _raises(distributed.check_thread_guard)))
        t.start()
        t.join()
    assert errors[0] == ("The thread guard's global thread ID is already set. Nested thread "
                         "guards in different threads are not supported.")
    assert "A multi-process plax operation was called from thread" in errors[1]
    assert not plax.config.thread_guard
    t = threading.Thread(target=other)  # the guard ended: another thread may set it
    t.start()
    t.join()
    assert len(errors) == 2
    distributed.check_thread_guard()


def _raises(fn):
    try:
        fn()
    except RuntimeError as e:
        return str(e)
    return "no error"
