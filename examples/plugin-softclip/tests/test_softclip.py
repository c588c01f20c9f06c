"""The plugin's own tests: the conformance kit over both primitives, and their numbers."""

import numpy as np
import pytest

import plax
from plax_softclip import mirror, mirror_p, softclip, softclip_p

X = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)


def test_softclip_conforms(check_primitive):
    report = check_primitive(softclip_p, X, params={"limit": 2.0})
    assert report["jvp"] == "ok" and report["grad of grad"] == "ok"
    assert all(v == "ok" for k, v in report.items() if k.startswith(("eager", "jit", "vmap")))


def test_mirror_conforms(check_primitive):
    report = check_primitive(mirror_p, X)
    assert report["transpose"] == "ok" and report["jvp"] == "ok"


@pytest.mark.parametrize("backend", ["reference", "xla"])
def test_numbers(backend):
    if backend not in plax.extend.registry.backend_names():
        pytest.skip(f"the {backend} backend is not installed")
    with plax.default_backend(backend):
        np.testing.assert_allclose(np.asarray(softclip(X, 2.0)), 2 * np.tanh(X / 2), rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(plax.jit(mirror)(X)), X[:, ::-1])
    assert plax.softclip is softclip  # the plugin's API name


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match="softclip: x must be a floating array"):
        softclip(np.arange(3), 1.0)
    with pytest.raises(ValueError, match="mirror: x must have at least one axis"):
        mirror(np.float32(1.0))
