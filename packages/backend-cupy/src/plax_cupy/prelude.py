"""The C++ prelude placed before every generated kernel: dtypes, XLA's semantics helpers, and
the mapping of CUDA's built-ins that lets g++ build the same kernel text for the host.

Under NVRTC (`__CUDACC__`) the real CUDA types and built-ins are used. Under g++ a kernel runs as
one thread of one block (grid-stride loops then cover the whole index space), `__half` is
`_Float16` and bfloat16 a 16-bit struct with round-to-nearest-even conversions."""

PRELUDE = r"""
// ---- plax prelude -------------------------------------------------------------------------
#ifdef __CUDACC__
#include <cuda_fp16.h>
#include <cuda_bf16.h>
typedef __half plax_f16;
typedef __nv_bfloat16 plax_bf16;
#define PLAX_FN __device__ __forceinline__
PLAX_FN float plax_h2f(plax_f16 x) { return __half2float(x); }
PLAX_FN plax_f16 plax_f2h(float x) { return __float2half_rn(x); }
PLAX_FN plax_f16 plax_d2h(double x) { return __double2half(x); }
PLAX_FN float plax_b2f(plax_bf16 x) { return __bfloat162float(x); }
PLAX_FN plax_bf16 plax_f2b(float x) { return __float2bfloat16_rn(x); }
PLAX_FN int plax_popc32(unsigned x) { return __popc(x); }
PLAX_FN int plax_popc64(unsigned long long x) { return __popcll(x); }
#define PLAX_INF __longlong_as_double(0x7ff0000000000000ULL)
#define PLAX_NAN __longlong_as_double(0x7ff8000000000000ULL)
template <class To, class From> PLAX_FN To plax_bitcast(From x) {
  union { From f; To t; } u; u.f = x; return u.t;
}
#else
#include <math.h>
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
#define PLAX_FN static inline
struct plax_dim3 { unsigned x, y, z; };
#ifdef PLAX_EMULATE  // tests: each block's threads as POSIX threads, __syncthreads a barrier
#include <pthread.h>
static thread_local plax_dim3 threadIdx;
static plax_dim3 blockIdx, blockDim, gridDim;
static pthread_barrier_t plax_barrier;
#define __syncthreads() pthread_barrier_wait(&plax_barrier)
#define __shared__ static
template <class F> struct plax_emu_ctx { F* f; unsigned t; };
template <class F> static void* plax_emu_thread(void* p) {
  plax_emu_ctx<F>* c = (plax_emu_ctx<F>*)p;
  threadIdx.x = c->t; threadIdx.y = threadIdx.z = 0;
  (*c->f)();
  return 0;
}
template <class F> static void plax_emu_run(unsigned grid, unsigned block, F f) {
  gridDim.x = grid; blockDim.x = block; gridDim.y = gridDim.z = blockDim.y = blockDim.z = 1;
  pthread_t th[1024]; plax_emu_ctx<F> ctx[1024];
  for (unsigned b = 0; b < grid; ++b) {  // one block at a time: statics are its shared memory
    blockIdx.x = b;
    pthread_barrier_init(&plax_barrier, 0, block);
    for (unsigned t = 0; t < block; ++t) {
      ctx[t].f = &f; ctx[t].t = t;
      pthread_create(&th[t], 0, plax_emu_thread<F>, &ctx[t]);
    }
    for (unsigned t = 0; t < block; ++t) pthread_join(th[t], 0);
    pthread_barrier_destroy(&plax_barrier);
  }
}
#else  // the host build: a kernel runs as one thread of one block
#define __syncthreads() ((void)0)
static const plax_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0};
static const plax_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#endif
typedef _Float16 plax_f16;
struct plax_bf16 { unsigned short bits; };
PLAX_FN float plax_h2f(plax_f16 x) { return (float)x; }
PLAX_FN plax_f16 plax_f2h(float x) { return (plax_f16)x; }
PLAX_FN plax_f16 plax_d2h(double x) { return (plax_f16)x; }
PLAX_FN float plax_b2f(plax_bf16 x) {
  unsigned u = (unsigned)x.bits << 16; float f; memcpy(&f, &u, 4); return f;
}
PLAX_FN plax_bf16 plax_f2b(float f) {  // round to nearest even; NaN stays a quiet NaN
  unsigned u; memcpy(&u, &f, 4); plax_bf16 r;
  if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = (unsigned short)((u >> 16) | 0x40u); return r; }
  u += 0x7fffu + ((u >> 16) & 1u); r.bits = (unsigned short)(u >> 16); return r;
}
PLAX_FN int plax_popc32(unsigned x) { return __builtin_popcount(x); }
PLAX_FN int plax_popc64(unsigned long long x) { return __builtin_popcountll(x); }
#define PLAX_INF HUGE_VAL
#define PLAX_NAN ((double)NAN)
template <class To, class From> PLAX_FN To plax_bitcast(From x) {
  To t; memcpy(&t, &x, sizeof(To)); return t;
}
#endif
// 16-bit floats are computed in float32 and rounded after each operation (as XLA and NumPy)
PLAX_FN float plax_rh(float x) { return plax_h2f(plax_f2h(x)); }
PLAX_FN float plax_rb(float x) { return plax_b2f(plax_f2b(x)); }
PLAX_FN plax_bf16 plax_d2b(double x) { return plax_f2b((float)x); }

// overloads so templates can call libm on float and double alike
PLAX_FN float plax_exp(float x) { return expf(x); }
PLAX_FN double plax_exp(double x) { return exp(x); }
PLAX_FN float plax_log(float x) { return logf(x); }
PLAX_FN double plax_log(double x) { return log(x); }
PLAX_FN float plax_cos(float x) { return cosf(x); }
PLAX_FN double plax_cos(double x) { return cos(x); }
PLAX_FN float plax_sin(float x) { return sinf(x); }
PLAX_FN double plax_sin(double x) { return sin(x); }
PLAX_FN float plax_atan2(float y, float x) { return atan2f(y, x); }
PLAX_FN double plax_atan2(double y, double x) { return atan2(y, x); }
PLAX_FN float plax_hypot(float x, float y) { return hypotf(x, y); }
PLAX_FN double plax_hypot(double x, double y) { return hypot(x, y); }
PLAX_FN float plax_fabs(float x) { return fabsf(x); }
PLAX_FN double plax_fabs(double x) { return fabs(x); }
PLAX_FN float plax_floor(float x) { return floorf(x); }
PLAX_FN double plax_floor(double x) { return floor(x); }

// erf_inv: CUDA's erfinv on the device; on the host Giles' approximation refined by Newton steps
#ifdef __CUDACC__
PLAX_FN float plax_erfinv(float x) { return erfinvf(x); }
PLAX_FN double plax_erfinv(double x) { return erfinv(x); }
#else
PLAX_FN double plax_erfinv(double x) {
  if (!(x >= -1.0 && x <= 1.0)) return PLAX_NAN;
  if (x == 1.0 || x == -1.0) return x * PLAX_INF;
  double w = -log((1.0 - x) * (1.0 + x)), p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08; p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w; p = 0.00021858087 + p * w; p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w; p = 0.246640727 + p * w; p = 1.50140941 + p * w;
  } else {
    w = sqrt(w) - 3.0;
    p = -0.000200214257; p = 0.000100950558 + p * w; p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w; p = 0.00573950773 + p * w; p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w; p = 1.00167406 + p * w; p = 2.83297682 + p * w;
  }
  double y = p * x;
  for (int k = 0; k < 2; ++k) {  // Newton on erf(y) = x
    double d = 1.1283791670955126 * exp(-y * y);
    if (d > 0) y -= (erf(y) - x) / d;
  }
  return y;
}
PLAX_FN float plax_erfinv(float x) { return (float)plax_erfinv((double)x); }
#endif

// digamma (no CUDA built-in): reflection, recurrence to x >= 6, then the asymptotic series;
// NaN at the poles (0 and the negative integers), as XLA
PLAX_FN double plax_digamma(double x) {
  if (x != x || x == -PLAX_INF) return PLAX_NAN;
  if (x <= 0 && floor(x) == x) return PLAX_NAN;
  double r = 0;
  if (x < 0) {
    r = -3.141592653589793 / tan(3.141592653589793 * x);
    x = 1 - x;
  }
  while (x < 6) { r -= 1 / x; x += 1; }
  double f = 1 / (x * x);
  double t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240
             + f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12))))));
  return r + log(x) - 0.5 / x + t;
}
PLAX_FN float plax_digamma(float x) { return (float)plax_digamma((double)x); }

// NaN-propagating max/min (fmax/fmin drop NaNs; XLA propagates them)
template <class T> PLAX_FN T plax_max(T a, T b) {
  return a != a ? a : b != b ? b : (a > b ? a : b);
}
template <class T> PLAX_FN T plax_min(T a, T b) {
  return a != a ? a : b != b ? b : (a < b ? a : b);
}
template <class T> PLAX_FN T plax_sign(T x) { return x > 0 ? (T)1 : x < 0 ? (T)-1 : x; }

// integer division and remainder as XLA: x / 0 = -1 (all ones), x % 0 = x, MIN / -1 = MIN
template <class T> PLAX_FN T plax_sdiv(T a, T b, T mn) {
  return b == 0 ? (T)-1 : (a == mn && b == (T)-1) ? mn : (T)(a / b);
}
template <class T> PLAX_FN T plax_srem(T a, T b) {
  return b == 0 ? a : b == (T)-1 ? (T)0 : (T)(a % b);
}
template <class T> PLAX_FN T plax_udiv(T a, T b) { return b == 0 ? (T)~(T)0 : (T)(a / b); }
template <class T> PLAX_FN T plax_urem(T a, T b) { return b == 0 ? a : (T)(a % b); }

// shifts by the bit width or more: 0 (left, logical) or the sign (arithmetic)
template <class T, class U> PLAX_FN T plax_shl(T a, T b) {
  U n = (U)b; return n >= (U)(8 * sizeof(T)) ? (T)0 : (T)((U)a << n);
}
template <class T, class U> PLAX_FN T plax_shrl(T a, T b) {
  U n = (U)b; return n >= (U)(8 * sizeof(T)) ? (T)0 : (T)((U)a >> n);
}
template <class T, class S, class U> PLAX_FN T plax_shra(T a, T b) {
  U n = (U)b; unsigned s = n >= (U)(8 * sizeof(T)) ? (unsigned)(8 * sizeof(T) - 1) : (unsigned)n;
  return (T)((S)a >> s);
}

// float -> int: truncate, NaN -> 0, out of range saturates (XLA CPU/GPU)
template <class T> PLAX_FN T plax_f2i(double x, double lo, double hi, T mn, T mx) {
  return x != x ? (T)0 : x <= lo ? mn : x >= hi ? mx : (T)x;
}

// complex numbers as a plain struct (NVRTC and g++ alike)
template <class T> struct plax_complex { T re, im; };
typedef plax_complex<float> plax_c64;
typedef plax_complex<double> plax_c128;
template <class T> PLAX_FN plax_complex<T> plax_cmake(T re, T im) {
  plax_complex<T> z; z.re = re; z.im = im; return z;
}
template <class T> PLAX_FN plax_complex<T> plax_cadd(plax_complex<T> a, plax_complex<T> b) {
  return plax_cmake(a.re + b.re, a.im + b.im);
}
template <class T> PLAX_FN plax_complex<T> plax_csub(plax_complex<T> a, plax_complex<T> b) {
  return plax_cmake(a.re - b.re, a.im - b.im);
}
template <class T> PLAX_FN plax_complex<T> plax_cmul(plax_complex<T> a, plax_complex<T> b) {
  return plax_cmake(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
template <class T> PLAX_FN plax_complex<T> plax_cdiv(plax_complex<T> a, plax_complex<T> b) {
  // Smith's algorithm (as NumPy): no overflow for large |b|
  if (plax_fabs(b.re) >= plax_fabs(b.im)) {
    if (b.re == 0 && b.im == 0)
      return plax_cmake(a.re / plax_fabs(b.re), a.im / plax_fabs(b.im));
    T r = b.im / b.re, d = b.re + b.im * r;
    return plax_cmake((a.re + a.im * r) / d, (a.im - a.re * r) / d);
  }
  T r = b.re / b.im, d = b.re * r + b.im;
  return plax_cmake((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}
template <class T> PLAX_FN plax_complex<T> plax_cneg(plax_complex<T> a) {
  return plax_cmake(-a.re, -a.im);
}
template <class T> PLAX_FN plax_complex<T> plax_cconj(plax_complex<T> a) {
  return plax_cmake(a.re, -a.im);
}
template <class T> PLAX_FN T plax_cabs(plax_complex<T> a) { return plax_hypot(a.re, a.im); }
template <class T> PLAX_FN bool plax_ceq(plax_complex<T> a, plax_complex<T> b) {
  return a.re == b.re && a.im == b.im;
}
template <class T> PLAX_FN plax_complex<T> plax_cexp(plax_complex<T> a) {
  T m = plax_exp(a.re);
  if (a.im == 0) return plax_cmake(m, a.im);
  return plax_cmake(m * plax_cos(a.im), m * plax_sin(a.im));
}
template <class T> PLAX_FN plax_complex<T> plax_clog(plax_complex<T> a) {
  return plax_cmake(plax_log(plax_cabs(a)), plax_atan2(a.im, a.re));
}
template <class T> PLAX_FN plax_complex<T> plax_csign(plax_complex<T> a) {
  T m = plax_cabs(a);
  return m == 0 ? plax_cmake((T)0, (T)0) : plax_cmake(a.re / m, a.im / m);
}

// more complex functions (NumPy's formulas; Kahan's for tanh)
PLAX_FN float plax_sqrt(float x) { return sqrtf(x); }
PLAX_FN double plax_sqrt(double x) { return sqrt(x); }
PLAX_FN float plax_sinh(float x) { return sinhf(x); }
PLAX_FN double plax_sinh(double x) { return sinh(x); }
PLAX_FN float plax_cosh(float x) { return coshf(x); }
PLAX_FN double plax_cosh(double x) { return cosh(x); }
PLAX_FN float plax_tan(float x) { return tanf(x); }
PLAX_FN double plax_tan(double x) { return tan(x); }
PLAX_FN float plax_expm1(float x) { return expm1f(x); }
PLAX_FN double plax_expm1(double x) { return expm1(x); }
PLAX_FN float plax_log1p(float x) { return log1pf(x); }
PLAX_FN double plax_log1p(double x) { return log1p(x); }
PLAX_FN float plax_copysign(float x, float y) { return copysignf(x, y); }
PLAX_FN double plax_copysign(double x, double y) { return copysign(x, y); }
template <class T> PLAX_FN plax_complex<T> plax_csqrt(plax_complex<T> z) {
  if (z.re == 0 && z.im == 0) return plax_cmake((T)0, z.im);
  if (z.im == (T)PLAX_INF || z.im == -(T)PLAX_INF) return plax_cmake((T)PLAX_INF, z.im);
  T t = plax_sqrt((plax_fabs(z.re) + plax_hypot(z.re, z.im)) * (T)0.5);
  if (z.re >= 0) return plax_cmake(t, z.im / (2 * t));
  return plax_cmake(plax_fabs(z.im) / (2 * t), plax_copysign(t, z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_csin(plax_complex<T> z) {
  return plax_cmake(plax_sin(z.re) * plax_cosh(z.im), plax_cos(z.re) * plax_sinh(z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_ccos(plax_complex<T> z) {
  return plax_cmake(plax_cos(z.re) * plax_cosh(z.im), -(plax_sin(z.re) * plax_sinh(z.im)));
}
template <class T> PLAX_FN plax_complex<T> plax_csinh(plax_complex<T> z) {
  return plax_cmake(plax_sinh(z.re) * plax_cos(z.im), plax_cosh(z.re) * plax_sin(z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_ccosh(plax_complex<T> z) {
  return plax_cmake(plax_cosh(z.re) * plax_cos(z.im), plax_sinh(z.re) * plax_sin(z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_ctanh(plax_complex<T> z) {
  const T big = sizeof(T) == 4 ? (T)9 : (T)22;  // exp(-2|x|) below the precision
  if (plax_fabs(z.re) > big) {
    T e = plax_exp(-2 * plax_fabs(z.re));
    return plax_cmake(plax_copysign((T)1, z.re), 4 * plax_sin(z.im) * plax_cos(z.im) * e);
  }
  T t = plax_tan(z.im), b = 1 + t * t, s = plax_sinh(z.re), rho = plax_sqrt(1 + s * s);
  T d = 1 + b * s * s;
  return plax_cmake(b * rho * s / d, t / d);
}
template <class T> PLAX_FN plax_complex<T> plax_ctan(plax_complex<T> z) {
  plax_complex<T> h = plax_ctanh(plax_cmake(-z.im, z.re));  // tan z = -i tanh(iz)
  return plax_cmake(h.im, -h.re);
}
template <class T> PLAX_FN plax_complex<T> plax_cexpm1(plax_complex<T> z) {
  T h = plax_sin(z.im * (T)0.5);
  return plax_cmake(plax_expm1(z.re) * plax_cos(z.im) - 2 * h * h,
                    plax_exp(z.re) * plax_sin(z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_clog1p(plax_complex<T> z) {
  T x = z.re, y = z.im, re;
  if (plax_fabs(x) + plax_fabs(y) < (T)1e4) re = (T)0.5 * plax_log1p(x * (2 + x) + y * y);
  else re = plax_log(plax_hypot(1 + x, y));
  return plax_cmake(re, plax_atan2(y, 1 + x));
}
template <class T> PLAX_FN plax_complex<T> plax_cpow(plax_complex<T> a, plax_complex<T> b) {
  if (b.re == 0 && b.im == 0) return plax_cmake((T)1, (T)0);
  if (a.re == 0 && a.im == 0) {
    if (b.re > 0 && b.im == 0) return plax_cmake((T)0, (T)0);
    return plax_cmake((T)PLAX_NAN, (T)PLAX_NAN);
  }
  return plax_cexp(plax_cmul(b, plax_clog(a)));
}
template <class T> PLAX_FN plax_complex<T> plax_crecip(plax_complex<T> z) {
  return plax_cdiv(plax_cmake((T)1, (T)0), z);
}

// inverse trigonometric and hyperbolic functions: Hull, Fairgrieve and Tang's algorithm for
// asin/acos (as XLA's chlo decomposition and Boost), atanh after Kahan, scaled where squares
// overflow or underflow; asinh, atan, acosh from them by the C99 identities (signed zeros and
// inf/NaN parts as C99 Annex G)
// the largest finite, smallest normal and epsilon of the argument's type
PLAX_FN float plax_lim_max(float) { return 3.40282347e+38f; }
PLAX_FN double plax_lim_max(double) { return 1.7976931348623157e+308; }
PLAX_FN float plax_lim_tiny(float) { return 1.17549435e-38f; }
PLAX_FN double plax_lim_tiny(double) { return 2.2250738585072014e-308; }
PLAX_FN float plax_lim_eps(float) { return 1.1920929e-07f; }
PLAX_FN double plax_lim_eps(double) { return 2.220446049250313e-16; }
PLAX_FN float plax_asin(float x) { return asinf(x); }
PLAX_FN double plax_asin(double x) { return asin(x); }
PLAX_FN float plax_acos(float x) { return acosf(x); }
PLAX_FN double plax_acos(double x) { return acos(x); }
PLAX_FN float plax_atan(float x) { return atanf(x); }
PLAX_FN double plax_atan(double x) { return atan(x); }
template <class T> PLAX_FN bool plax_isnan(T x) { return x != x; }
template <class T> PLAX_FN bool plax_isinf(T x) { return plax_fabs(x) == (T)PLAX_INF; }
// asin (acos = false) or acos (acos = true) of z, Hull et al. (ACM TOMS 23, 1997)
template <class T> PLAX_FN plax_complex<T> plax_casin_acos(plax_complex<T> z, bool acos) {
  const T inf = (T)PLAX_INF, nan = (T)PLAX_NAN;
  const T pi = (T)3.141592653589793238, half_pi = (T)1.570796326794896619;
  const T quarter_pi = (T)0.785398163397448310, log2 = (T)0.693147180559945309;
  T x = plax_fabs(z.re), y = plax_fabs(z.im), re, im;
  if (plax_isnan(x) || plax_isnan(y) || plax_isinf(x) || plax_isinf(y)) {
    if (plax_isnan(x)) { re = nan; im = plax_isinf(y) ? inf : nan; }
    else if (plax_isnan(y)) {
      if (x == 0) { re = acos ? half_pi : (T)0; im = nan; }
      else { re = nan; im = plax_isinf(x) ? inf : nan; }
    } else if (plax_isinf(x)) {
      re = plax_isinf(y) ? quarter_pi : (acos ? (T)0 : half_pi); im = inf;
    } else { re = acos ? half_pi : (T)0; im = inf; }
  } else if (y == 0 && x <= 1) {  // the real line within [-1, 1]: exact
    if (acos) return plax_cmake(plax_acos(z.re), -z.im);
    return plax_cmake(plax_asin(z.re), z.im);
  } else {
    const T safe_max = plax_sqrt(plax_lim_max((T)0)) / 8;
    const T safe_min = plax_sqrt(plax_lim_tiny((T)0)) * 4;
    const T eps = plax_lim_eps((T)0);
    T xp1 = x + 1, xm1 = x - 1;
    if (x < safe_max && x > safe_min && y < safe_max && y > safe_min) {
      T yy = y * y, r = plax_sqrt(xp1 * xp1 + yy), s = plax_sqrt(xm1 * xm1 + yy);
      T a = (T)0.5 * (r + s), b = x / a;
      if (b <= (T)0.6417) {
        re = acos ? plax_acos(b) : plax_asin(b);
      } else if (x <= 1) {
        T apx = (T)0.5 * (a + x) * (yy / (r + xp1) + (s - xm1));
        re = acos ? plax_atan(plax_sqrt(apx) / x) : plax_atan(x / plax_sqrt(apx));
      } else {
        T apx = (a + x) * (T)0.5 * (1 / (r + xp1) + 1 / (s + xm1));
        re = acos ? plax_atan(y * plax_sqrt(apx) / x) : plax_atan(x / (y * plax_sqrt(apx)));
      }
      if (a <= (T)1.5) {
        T am1 = x < 1 ? (T)0.5 * (yy / (r + xp1) + yy / (s - xm1))
                      : (T)0.5 * (yy / (r + xp1) + (s + xm1));
        im = plax_log1p(am1 + plax_sqrt(am1 * (a + 1)));
      } else {
        im = plax_log(a + plax_sqrt(a * a - 1));
      }
    } else if (y <= eps * plax_fabs(xm1)) {  // near the real axis
      if (x < 1) {
        re = acos ? plax_acos(x) : plax_asin(x);
        im = y / plax_sqrt(xp1 * (1 - x));
      } else if (plax_lim_max((T)0) / xp1 > xm1) {
        re = acos ? y / plax_sqrt(xm1 * xp1) : half_pi;
        im = plax_log1p(xm1 + plax_sqrt(xp1 * xm1));
      } else {
        re = acos ? y / x : half_pi;
        im = log2 + plax_log(x);
      }
    } else if (y <= safe_min) {  // then x == 1
      re = acos ? plax_sqrt(y) : half_pi - plax_sqrt(y);
      im = plax_sqrt(y);
    } else if (eps * y - 1 >= x) {  // y huge against x
      re = acos ? half_pi : x / y;
      im = log2 + plax_log(y);
    } else if (x > 1) {
      re = acos ? plax_atan(y / x) : plax_atan(x / y);
      T xoy = x / y;
      im = log2 + plax_log(y) + (T)0.5 * plax_log1p(xoy * xoy);
    } else {
      T a = plax_sqrt(1 + y * y);
      re = acos ? half_pi : x / a;
      im = (T)0.5 * plax_log1p(2 * y * (y + a));
    }
  }
  if (acos) {  // acos z = pi/2 - asin z: the imaginary part's sign flips
    if (plax_copysign((T)1, z.re) < 0) re = pi - re;
    return plax_cmake(re, plax_copysign((T)1, z.im) < 0 ? im : -im);
  }
  return plax_cmake(plax_copysign(re, z.re), plax_copysign(im, z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_casin(plax_complex<T> z) {
  return plax_casin_acos(z, false);
}
template <class T> PLAX_FN plax_complex<T> plax_cacos(plax_complex<T> z) {
  return plax_casin_acos(z, true);
}
template <class T> PLAX_FN plax_complex<T> plax_casinh(plax_complex<T> z) {
  plax_complex<T> w = plax_casin(plax_cmake(-z.im, z.re));  // asinh z = -i asin(iz)
  return plax_cmake(w.im, -w.re);
}
template <class T> PLAX_FN plax_complex<T> plax_cacosh(plax_complex<T> z) {
  plax_complex<T> w = plax_cacos(z);  // +-i acos z: real part >= 0, imaginary sign of z.im's
  if (plax_isnan(w.im)) return plax_cmake(w.im, w.re);
  if (plax_isnan(w.re)) return plax_cmake(plax_fabs(w.im), w.re);
  return plax_cmake(plax_fabs(w.im), plax_copysign(w.re, z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_catanh(plax_complex<T> z) {
  const T inf = (T)PLAX_INF, nan = (T)PLAX_NAN, half_pi = (T)1.570796326794896619;
  T x = plax_fabs(z.re), y = plax_fabs(z.im), re, im;
  if (plax_isnan(x) || plax_isnan(y) || plax_isinf(x) || plax_isinf(y)) {
    if (plax_isinf(y)) { re = 0; im = half_pi; }
    else if (plax_isnan(x)) { re = nan; im = nan; }
    else if (plax_isinf(x)) { re = 0; im = plax_isnan(y) ? nan : half_pi; }
    else { re = x == 0 ? (T)0 : nan; im = nan; }  // y NaN
  } else {
    const T big = plax_sqrt(plax_lim_max((T)0)) / 2;
    if (x > big || y > big) {  // re = x / (x^2 + y^2), scaled
      T m = x > y ? x : y, a = x / m, b = y / m;
      re = a / (a * a + b * b) / m;
      im = half_pi;
    } else {
      T d = (1 - x) * (1 - x) + y * y;
      if (d >= plax_sqrt(plax_lim_tiny((T)0))) re = (T)0.25 * plax_log1p(4 * x / d);
      else re = (T)0.25 * plax_log(4 * x) - (T)0.5 * plax_log(plax_hypot(1 - x, y));  // x ~ 1
      im = (T)0.5 * plax_atan2(2 * y, (1 - x) * (1 + x) - y * y);
    }
  }
  return plax_cmake(plax_copysign(re, z.re), plax_copysign(im, z.im));
}
template <class T> PLAX_FN plax_complex<T> plax_catan(plax_complex<T> z) {
  plax_complex<T> w = plax_catanh(plax_cmake(-z.im, z.re));  // atan z = -i atanh(iz)
  return plax_cmake(w.im, -w.re);
}

// argmax/argmin: (value, index) pairs; NaN wins (first NaN), ties go to the smaller index
template <class T> struct plax_arg { T v; long long i; };
template <class T> PLAX_FN plax_arg<T> plax_argmk(T v, long long i) {
  plax_arg<T> a; a.v = v; a.i = i; return a;
}
template <class T> PLAX_FN plax_arg<T> plax_argmax_c(plax_arg<T> a, plax_arg<T> b) {
  bool an = a.v != a.v, bn = b.v != b.v;
  if (an || bn) return (an && (!bn || a.i < b.i)) ? a : b;
  if (a.v != b.v) return a.v > b.v ? a : b;
  return a.i < b.i ? a : b;
}
template <class T> PLAX_FN plax_arg<T> plax_argmin_c(plax_arg<T> a, plax_arg<T> b) {
  bool an = a.v != a.v, bn = b.v != b.v;
  if (an || bn) return (an && (!bn || a.i < b.i)) ? a : b;
  if (a.v != b.v) return a.v < b.v ? a : b;
  return a.i < b.i ? a : b;
}

// a block-wide reduction: warp shuffles then one value per warp for the arithmetic types, a
// tree in shared memory for the others (bool, complex, index pairs); every thread gets the
// result. The host build runs a block as one thread.
template <class T> struct plax_shfl { static const bool ok = false; };
template <> struct plax_shfl<float> { static const bool ok = true; };
template <> struct plax_shfl<double> { static const bool ok = true; };
template <> struct plax_shfl<int> { static const bool ok = true; };
template <> struct plax_shfl<unsigned int> { static const bool ok = true; };
template <> struct plax_shfl<long long> { static const bool ok = true; };
template <> struct plax_shfl<unsigned long long> { static const bool ok = true; };
template <class T, class F> PLAX_FN T plax_block_reduce(T v, F f) {
#if defined(__CUDACC__) || defined(PLAX_EMULATE)
#ifdef __CUDACC__
  if constexpr (plax_shfl<T>::ok) {
    __shared__ T w[32];
    const unsigned lane = threadIdx.x & 31u, wid = threadIdx.x >> 5;
    const unsigned nw = (blockDim.x + 31u) >> 5;
    for (unsigned k = 16; k > 0; k >>= 1) v = f(v, __shfl_down_sync(0xffffffffu, v, k));
    __syncthreads();  // the previous call's readers are done with w
    if (lane == 0) w[wid] = v;
    __syncthreads();
    if (wid == 0) {
      v = w[lane < nw ? lane : 0];
      for (unsigned k = 16; k > 0; k >>= 1) {
        T o = __shfl_down_sync(0xffffffffu, v, k);
        if (lane + k < nw) v = f(v, o);
      }
      if (lane == 0) w[0] = v;
    }
    __syncthreads();
    return w[0];
  } else
#endif
  {  // blockDim.x: a power of two, at most 256
    __shared__ T s[256];
    unsigned t = threadIdx.x;
    __syncthreads();
    s[t] = v;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
      if (t < k) s[t] = f(s[t], s[t + k]);
      __syncthreads();
    }
    T r = s[0];
    __syncthreads();  // everyone has read s[0] before the next reduction writes s
    return r;
  }
#else
  (void)f;
  return v;
#endif
}
// an inclusive block-wide scan (Hillis-Steele in shared memory; f(earlier, later)), and the
// block's last value (the carry into the next chunk); the host build runs a block as one thread
template <class T, class F> PLAX_FN T plax_block_scan(T v, F f) {
#if defined(__CUDACC__) || defined(PLAX_EMULATE)
  __shared__ T s[256];
  const unsigned t = threadIdx.x;
  __syncthreads();
  s[t] = v;
  __syncthreads();
  for (unsigned k = 1; k < blockDim.x; k <<= 1) {
    T o = t >= k ? s[t - k] : v;
    __syncthreads();
    if (t >= k) { v = f(o, v); s[t] = v; }
    __syncthreads();
  }
  return v;
#else
  (void)f;
  return v;
#endif
}
template <class T> PLAX_FN T plax_block_last(T v) {
#if defined(__CUDACC__) || defined(PLAX_EMULATE)
  __shared__ T s[1];
  __syncthreads();
  if (threadIdx.x == blockDim.x - 1) s[0] = v;
  __syncthreads();
  T r = s[0];
  __syncthreads();
  return r;
#else
  return v;
#endif
}
// log(exp(a) + exp(b)) as NumPy's logaddexp (equal infinities stay, NaN propagates)
template <class T> PLAX_FN T plax_logaddexp(T a, T b) {
  if (a == b) return a + (T)0.6931471805599453;
  T d = a - b;
  if (d > 0) return a + log1p(plax_exp(-d));
  if (d <= 0) return b + log1p(plax_exp(d));
  return d;  // NaN
}

// scatter: read-modify-write of one element, atomic on the GPU (a compare-and-swap loop on
// the 4- or 8-byte word holding it); the host build runs one thread, the emulation holds a lock
#ifdef PLAX_EMULATE
static pthread_mutex_t plax_scatter_lock = PTHREAD_MUTEX_INITIALIZER;
#endif
template <class S, class F> PLAX_FN void plax_atomic_update(S* p, F f) {
#ifdef __CUDACC__
  if constexpr (sizeof(S) == 8) {
    unsigned long long* a = (unsigned long long*)p;
    unsigned long long old = *a, assumed;
    do {
      assumed = old;
      S cur; memcpy(&cur, &assumed, 8);
      S nw = f(cur);
      unsigned long long bits; memcpy(&bits, &nw, 8);
      old = atomicCAS(a, assumed, bits);
    } while (assumed != old);
  } else {
    static_assert(sizeof(S) <= 4, "plax_atomic_update: at most 8 bytes");
    const unsigned long long addr = (unsigned long long)p;
    unsigned* a = (unsigned*)(addr & ~3ULL);
    const unsigned shift = sizeof(S) == 4 ? 0u : (unsigned)(addr & 3u) * 8u;
    const unsigned mask = sizeof(S) == 4 ? 0xffffffffu : ((1u << (8 * sizeof(S))) - 1u) << shift;
    unsigned old = *a, assumed;
    do {
      assumed = old;
      unsigned part = (assumed & mask) >> shift;
      S cur; memcpy(&cur, &part, sizeof(S));
      S nw = f(cur);
      unsigned bits = 0; memcpy(&bits, &nw, sizeof(S));
      old = atomicCAS(a, assumed, (assumed & ~mask) | ((bits << shift) & mask));
    } while (assumed != old);
  }
#elif defined(PLAX_EMULATE)
  pthread_mutex_lock(&plax_scatter_lock);
  *p = f(*p);
  pthread_mutex_unlock(&plax_scatter_lock);
#else
  *p = f(*p);
#endif
}
// atomic float/double/int/unsigned additions use the hardware's atomicAdd
template <class S> PLAX_FN void plax_atomic_add(S* p, S v) {
#ifdef __CUDACC__
  atomicAdd(p, v);
#else
  plax_atomic_update(p, [&](S c) { return (S)(c + v); });
#endif
}
// rng_bit_generator's bit generators, as XLA's: Threefry-2x32 with 20 rounds of the 64-bit
// counter `ctr` (low word first) under the 64-bit `key`; Philox-4x32 with 10 rounds of the
// 128-bit counter (c0, c1) (low words first) under the 64-bit `key`
PLAX_FN unsigned plax_rotl32(unsigned x, int r) { return (x << r) | (x >> (32 - r)); }
#define PLAX_TF4(a, b, c, d) \
  x0 += x1; x1 = plax_rotl32(x1, a) ^ x0; x0 += x1; x1 = plax_rotl32(x1, b) ^ x0; \
  x0 += x1; x1 = plax_rotl32(x1, c) ^ x0; x0 += x1; x1 = plax_rotl32(x1, d) ^ x0;
PLAX_FN void plax_threefry2x32(unsigned long long key, unsigned long long ctr,
                               unsigned* r0, unsigned* r1) {
  const unsigned k0 = (unsigned)key, k1 = (unsigned)(key >> 32), k2 = 0x1BD11BDAu ^ k0 ^ k1;
  unsigned x0 = (unsigned)ctr + k0, x1 = (unsigned)(ctr >> 32) + k1;
  PLAX_TF4(13, 15, 26, 6) x0 += k1; x1 += k2 + 1u;
  PLAX_TF4(17, 29, 16, 24) x0 += k2; x1 += k0 + 2u;
  PLAX_TF4(13, 15, 26, 6) x0 += k0; x1 += k1 + 3u;
  PLAX_TF4(17, 29, 16, 24) x0 += k1; x1 += k2 + 4u;
  PLAX_TF4(13, 15, 26, 6) x0 += k2; x1 += k0 + 5u;
  *r0 = x0; *r1 = x1;
}
#undef PLAX_TF4
PLAX_FN void plax_philox4x32(unsigned long long key, unsigned long long c0,
                             unsigned long long c1, unsigned* r) {
  unsigned k0 = (unsigned)key, k1 = (unsigned)(key >> 32);
  unsigned x0 = (unsigned)c0, x1 = (unsigned)(c0 >> 32), x2 = (unsigned)c1,
           x3 = (unsigned)(c1 >> 32);
#define PLAX_PHILOX_ROUND { \
    const unsigned long long p0 = (unsigned long long)x0 * 0xD2511F53u; \
    const unsigned long long p1 = (unsigned long long)x2 * 0xCD9E8D57u; \
    const unsigned y0 = (unsigned)(p1 >> 32) ^ x1 ^ k0, y2 = (unsigned)(p0 >> 32) ^ x3 ^ k1; \
    x1 = (unsigned)p1; x3 = (unsigned)p0; x0 = y0; x2 = y2; \
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
  PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND
  PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND PLAX_PHILOX_ROUND
#undef PLAX_PHILOX_ROUND
  r[0] = x0; r[1] = x1; r[2] = x2; r[3] = x3;
}
// ---- end of prelude -----------------------------------------------------------------------
"""
