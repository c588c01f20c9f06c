"""lax.fft and plax.numpy.fft against jax.numpy.fft (and numpy.fft under x64), on every
backend: dtypes, s/n cropping and padding, axes, norms, jit/vmap and derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.numpy as pnp
from plax import lax

NORMS = [None, "backward", "ortho", "forward"]


def rand(shape, dtype, seed=0):
    r = np.random.RandomState(seed)
    x = r.randn(*shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.randn(*shape)
    return x.astype(dtype)


def close(actual, expected, dtype):
    assert np.asarray(actual).dtype == np.asarray(expected).dtype
    scale = max(1.0, float(np.abs(np.asarray(expected)).max(initial=0)))
    f32 = np.dtype(dtype) in (np.float32, np.complex64)
    assert_close(actual, expected, rtol=1e-4 if f32 else 1e-10,
                 atol=(2e-5 if f32 else 1e-11) * scale)


# (function, shape, kwargs, input dtype)
CASES_1D = [
    ("fft", (8,), {}, np.complex64), ("fft", (7,), {}, np.float32),
    ("fft", (3, 6), dict(n=4), np.complex64), ("fft", (3, 5), dict(n=9, axis=0), np.complex64),
    ("ifft", (2, 9), {}, np.complex64), ("ifft", (6, 4), dict(n=7, axis=0), np.float32),
    ("rfft", (10,), {}, np.float32), ("rfft", (4, 7), dict(n=5), np.float32),
    ("rfft", (5, 3), dict(n=8, axis=0), np.float32),
    ("irfft", (5,), {}, np.complex64), ("irfft", (3, 6), dict(n=9), np.complex64),
    ("irfft", (4, 3), dict(n=4, axis=0), np.complex64), ("irfft", (2, 5), dict(n=12),
                                                         np.complex64),
    ("hfft", (6,), {}, np.complex64), ("hfft", (3, 4), dict(n=5), np.complex64),
    ("ihfft", (8,), {}, np.float32), ("ihfft", (3, 7), dict(n=6, axis=0), np.float32),
]

CASES_ND = [
    ("fft2", (4, 6), {}, np.complex64), ("fft2", (3, 4, 5), dict(s=(3, 7)), np.float32),
    ("ifft2", (5, 4), dict(axes=(1, 0)), np.complex64),
    ("rfft2", (4, 6), {}, np.float32), ("rfft2", (2, 5, 7), dict(s=(4, 4), axes=(0, 2)),
                                        np.float32),
    ("irfft2", (4, 4), {}, np.complex64), ("irfft2", (3, 5), dict(s=(3, 7)), np.complex64),
    ("fftn", (3, 4, 5), {}, np.complex64), ("fftn", (3, 4, 5), dict(s=(2, 6)), np.complex64),
    ("fftn", (3, 4, 5), dict(axes=(0, 2)), np.float32),
    ("ifftn", (2, 3, 4), dict(s=(5, 3, 2)), np.complex64),
    ("rfftn", (3, 4, 6), {}, np.float32), ("rfftn", (3, 4, 5), dict(s=(5, 3), axes=(2, 0)),
                                           np.float32),
    ("irfftn", (3, 4, 4), {}, np.complex64), ("irfftn", (3, 4, 4), dict(s=(2, 5, 7)),
                                              np.complex64),
    ("fftn", (2, 2, 3, 2), {}, np.complex64), ("irfftn", (2, 3, 2, 3), {}, np.complex64),
    ("rfftn", (2, 3, 2, 2, 4), {}, np.float32),
]


@requires_jax
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name,shape,kw,dt", CASES_1D + CASES_ND,
                         ids=lambda v: str(v) if not isinstance(v, type) else v.__name__)
def test_numpy_fft_matches_jax(backend, name, shape, kw, dt, norm):
    import jax.numpy as jnp
    x = rand(shape, dt)
    got = getattr(pnp.fft, name)(x, norm=norm, **kw)
    want = getattr(jnp.fft, name)(x, norm=norm, **kw)
    close(got, want, dt)


@pytest.mark.parametrize("name,shape,kw,dt", CASES_1D[::2] + CASES_ND[::3],
                         ids=lambda v: str(v) if not isinstance(v, type) else v.__name__)
def test_numpy_fft_x64_matches_numpy(backend, name, shape, kw, dt):
    x = rand(shape, {np.complex64: np.complex128, np.float32: np.float64}[dt])
    with plax.enable_x64():
        got = getattr(pnp.fft, name)(x, norm="ortho", **kw)
    want = getattr(np.fft, name)(x, norm="ortho", **kw)
    close(got, want, x.dtype)


@requires_jax
def test_dtype_rules_and_integer_inputs(backend):
    import jax.numpy as jnp
    x = np.arange(6, dtype=np.int32)
    for name in ("fft", "ifft", "rfft", "ihfft"):
        got, want = getattr(pnp.fft, name)(x), getattr(jnp.fft, name)(x)
        assert got.dtype == want.dtype == np.complex64
        close(got, want, np.complex64)
    assert pnp.fft.irfft(x).dtype == np.float32
    assert pnp.fft.hfft(x).dtype == np.float32
    assert lax.fft(np.ones(4, np.float32), lax.FftType.FFT, (4,)).dtype == np.complex64
    with plax.enable_x64():
        assert pnp.fft.fft(np.ones(4)).dtype == np.complex128
        assert pnp.fft.rfft(np.ones(4)).dtype == np.complex128
        assert pnp.fft.irfft(np.ones(3, np.complex128)).dtype == np.float64
        assert pnp.fft.rfft(np.ones(4, np.float32)).dtype == np.complex64


@requires_jax
@pytest.mark.parametrize("n", [1, 2, 5, 6])
@pytest.mark.parametrize("fft_type", list(lax.FftType))
def test_lax_fft_matches_jax(backend, fft_type, n):
    import jax
    lengths = (3, n)
    shape = (2,) + lengths if fft_type != lax.FftType.IRFFT else (2, 3, n // 2 + 1)
    dt = np.float32 if fft_type == lax.FftType.RFFT else np.complex64
    x = rand(shape, dt, seed=n)
    got = lax.fft(x, fft_type, lengths)
    want = jax.lax.fft(x, jax.lax.FftType(int(fft_type)), lengths)
    close(got, want, dt)
    assert lax.fft(x, fft_type.name.lower(), lengths).shape == got.shape


def test_jit_vmap(backend):
    x = rand((3, 4, 6), np.float32)
    f = plax.jit(lambda a: pnp.fft.irfft(pnp.fft.rfft(a, norm="ortho"), n=6, norm="ortho"))
    close(f(x), x, np.float32)
    g = plax.vmap(lambda a: pnp.fft.fft2(a, s=(3, 5)), in_axes=1, out_axes=2)
    close(g(x), np.moveaxis(np.fft.fft2(np.moveaxis(x, 1, 0), s=(3, 5)), 0, 2)
          .astype(np.complex64), np.complex64)
    for typ, lengths, dt, shape in [(lax.FftType.IRFFT, (4, 6), np.complex64, (4, 4)),
                                    (lax.FftType.RFFT, (5,), np.float32, (5,)),
                                    (lax.FftType.IFFT, (4,), np.complex64, (4,))]:
        xs = rand((shape[0], 3) + shape[1:], dt)
        out = plax.vmap(lambda a, t=typ, ln=lengths: lax.fft(a, t, ln), in_axes=1)(xs)
        want = np.stack([np.asarray(lax.fft(xs[:, i], typ, lengths)) for i in range(3)])
        close(out, want, dt)
    # the shifts and frequencies
    assert_close(pnp.fft.fftshift(np.arange(7)), np.fft.fftshift(np.arange(7)))
    y = np.arange(12).reshape(3, 4)
    assert_close(pnp.fft.ifftshift(y, axes=1), np.fft.ifftshift(y, axes=1))
    assert_close(pnp.fft.fftshift(y, axes=(0, 1)), np.fft.fftshift(y, axes=(0, 1)))
    assert_close(pnp.fft.ifftshift(y), np.fft.ifftshift(y))
    close(pnp.fft.fftfreq(7, 0.5), np.fft.fftfreq(7, 0.5).astype(np.float32), np.float32)
    close(pnp.fft.fftfreq(8), np.fft.fftfreq(8).astype(np.float32), np.float32)
    close(pnp.fft.rfftfreq(9, 2.0), np.fft.rfftfreq(9, 2.0).astype(np.float32), np.float32)
    close(plax.jit(lambda d: pnp.fft.rfftfreq(6, d))(np.float32(0.25)),
          np.fft.rfftfreq(6, 0.25).astype(np.float32), np.float32)


@requires_jax
@pytest.mark.parametrize("n", [5, 6])
def test_grad_matches_jax(backend, n):
    import jax
    import jax.numpy as jnp
    x = rand((3, n), np.float32, seed=n)
    c = rand((3, n), np.complex64, seed=n + 1)
    w = rand((3, n // 2 + 1), np.float32, seed=7)

    def losses(np_):
        def l_rfft(a):
            return (np_.abs(np_.fft.rfft(a, axis=-1)) ** 2 * w).sum()

        def l_irfft(a):
            return (np_.fft.irfft(a, n=n) ** 3).sum()

        def l_fft(a):
            y = np_.fft.fft2(a, norm="ortho")
            return (y.real * np_.cos(y.imag)).sum()

        def l_ifft_real(a):
            return (np_.fft.ifft(a).imag ** 2).sum() + np_.fft.rfftn(a, s=(2, 4)).real.sum()
        return l_rfft, l_irfft, l_fft, l_ifft_real

    mine, theirs = losses(pnp), losses(jnp)
    args = [x, c[:, : n // 2 + 1], c, x]
    for fm, fj, a in zip(mine, theirs, args, strict=True):
        close(plax.grad(fm)(a), jax.grad(fj)(a), a.dtype)
        close(plax.jit(plax.grad(fm))(a), jax.grad(fj)(a), a.dtype)


def test_check_grads(backend):
    # jvp and vjp against finite differences, the real<->complex types (RFFT, IRFFT, hfft,
    # ihfft) included: check_vjp pairs with Re <x, y> as JAX's does
    with plax.enable_x64():
        x = rand((2, 5), np.float64)
        c = rand((2, 4), np.complex128, seed=1)
        for typ, arg, ln, modes in [(lax.FftType.RFFT, x, (2, 5), ("fwd", "rev")),
                                    (lax.FftType.IRFFT, c, (2, 6), ("fwd", "rev")),
                                    (lax.FftType.IRFFT, c[:, :3], (2, 5), ("fwd", "rev")),
                                    (lax.FftType.FFT, c, (4,), ("fwd", "rev")),
                                    (lax.FftType.IFFT, c, (2, 4), ("fwd", "rev"))]:
            plax.test_util.check_grads(lambda a, t=typ, ln=ln: lax.fft(a, t, ln), (arg,),
                                       order=2, modes=modes)
        plax.test_util.check_grads(lambda a: pnp.fft.hfft(a, n=7, norm="ortho"), (c,),
                                   order=1, modes=("fwd", "rev"))
        plax.test_util.check_grads(lambda a: pnp.fft.ihfft(a, n=6, norm="forward"), (x,),
                                   order=1, modes=("fwd", "rev"))


@requires_jax
@pytest.mark.parametrize("fft_type,in_shape,lengths",
                         [("rfft", (2, 6), (2, 6)), ("rfft", (3, 5), (5,)),
                          ("irfft", (2, 4), (2, 6)), ("irfft", (3, 3), (3, 5)),
                          ("fft", (2, 4), (2, 4)), ("ifft", (3, 5), (5,))])
def test_vjp_matches_jax(backend, fft_type, in_shape, lengths):
    import jax
    dt = np.float32 if fft_type == "rfft" else np.complex64
    x = rand(in_shape, dt)
    out, f_vjp = plax.vjp(lambda a: lax.fft(a, fft_type, lengths), x)
    ct = rand(out.shape, out.dtype, seed=3)
    _, j_vjp = jax.vjp(lambda a: jax.lax.fft(a, fft_type, lengths), x)
    close(f_vjp(ct)[0], j_vjp(ct)[0], dt)


def test_errors():
    c = np.ones((3, 4), np.complex64)
    r = np.ones((3, 4), np.float32)
    with pytest.raises(plax.PlaxTypeError if hasattr(plax, "PlaxTypeError") else TypeError,
                       match="trailing dimensions must equal fft_lengths"):
        lax.fft(c, lax.FftType.FFT, (5,))
    with pytest.raises(TypeError, match=r"IRFFT operand shape .* must be \(3,\)"):
        lax.fft(c, "irfft", (4,))
    with pytest.raises(TypeError, match="1 to 3 dimensions"):
        lax.fft(np.ones((2, 2, 2, 2), np.complex64), "fft", (2, 2, 2, 2))
    with pytest.raises(TypeError, match="fewer dimensions"):
        lax.fft(c, "fft", (2, 3, 4))
    with pytest.raises(ValueError, match="RFFT needs a real operand"):
        lax.fft(c, "rfft", (4,))
    with pytest.raises(TypeError, match="RFFT operand must be float32 or float64, got float16"):
        lax.fft(r.astype(np.float16), "rfft", (4,))
    with pytest.raises(ValueError, match="fft_type must be"):
        lax.fft(c, "dct", (4,))
    with pytest.raises(ValueError, match="invalid norm"):
        pnp.fft.fft(c, norm="unitary")
    with pytest.raises(ValueError, match="does not support multiple axes"):
        pnp.fft.fft(c, axis=(0, 1))
    with pytest.raises(ValueError, match="only supports 2 axes"):
        pnp.fft.fft2(c, axes=(0,))
    with pytest.raises(ValueError, match="repeated axes"):
        pnp.fft.fftn(c, axes=(1, 1))
    with pytest.raises(ValueError, match="s and axes have different lengths"):
        pnp.fft.fftn(c, s=(2, 2), axes=(0,))
    with pytest.raises(ValueError, match="s must be positive"):
        pnp.fft.fftn(c, s=(0, 2))
    with pytest.raises(ValueError, match="input must be real"):
        pnp.fft.rfft(c)
    with pytest.raises(ValueError, match="n must be an int"):
        pnp.fft.fftfreq([3])


def test_jaxpr_and_xla_text():
    jaxpr = plax.make_jaxpr(lambda a: lax.fft(a, lax.FftType.RFFT, (4,)))(
        np.ones((2, 4), np.float32))
    # printed as JAX prints it (FftType is an IntEnum)
    assert "c64[2,3] = fft[fft_lengths=(4,) fft_type=2] a" in str(jaxpr)
