"""Developer sessions: `nox -s tests`, `nox -s demo`, `nox -s bench`, `nox -s lint`,
`nox -s fuzz` (the long differential-fuzzing profile), `nox -s stress` (thread and memory tests
at full size), `nox -s jax_examples`, `nox -s array_api -- CHECKOUT` (the data-apis
array-api-tests suite on plax.numpy)."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PACKAGES = ["packages/core", "packages/transforms", "packages/backend-xla",
            "packages/backend-cupy"]
# NVRTC (pinned to the GPU machines' CUDA 13.0 driver) compiles every generated CUDA kernel to an
# sm_90 cubin in the tests, with or without a GPU
TEST_DEPS = ["pytest>=8", "pytest-xdist", "hypothesis", "jax", "jaxlib", "scikit-learn",
             "nvidia-cuda-nvrtc>=13.0,<13.1", "nvidia-cuda-runtime>=13.0,<13.1"]


def install_plax(session):
    session.install(*[arg for p in PACKAGES for arg in ("-e", p)])


@nox.session
def tests(session):
    """The whole test suite (JAX is installed as the oracle)."""
    install_plax(session)
    session.install(*TEST_DEPS)
    # the cupy backend's host build (g++) runs the conformance tests without a GPU
    session.run("pytest", "-q", "-n", "2", "tests", *session.posargs,
                env={"TF_CPP_MIN_LOG_LEVEL": "2", "PLAX_CUPY_DEVICE": "host"})


@nox.session
def fuzz(session):
    """The long differential-fuzzing profile: random programs on every backend against JAX,
    every disagreement collected (report: fuzz-report.txt; PLAX_FUZZ_EXAMPLES to resize)."""
    install_plax(session)
    session.install(*TEST_DEPS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py", *session.posargs,
                env={"TF_CPP_MIN_LOG_LEVEL": "2", "PLAX_FUZZ_PROFILE": "long",
                     "PLAX_FUZZ_REPORT": "fuzz-report.txt"})


@nox.session
def stress(session):
    """Thread-safety and memory tests at full size (a minute per thread, 100,000 calls)."""
    install_plax(session)
    session.install(*TEST_DEPS)
    session.run("pytest", "-q", "-s", "tests/test_threads.py", "tests/test_memory.py",
                *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "2", "PLAX_STRESS": "1"})


@nox.session
def demo(session):
    """The first program a user runs: the talk's example end to end."""
    install_plax(session)
    session.run("python", "examples/talk.py", *session.posargs)


@nox.session
def bench(session):
    install_plax(session)
    session.install("jax", "jaxlib")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session
def jax_examples(session):
    """JAX-style programs run unmodified on plax through a `jax` name shim and compared with
    JAX (tests/jax_examples; fetches nothing; the test suite runs it too)."""
    install_plax(session)
    session.install("jax", "jaxlib")
    session.run("python", "tests/jax_examples/harness.py", *session.posargs,
                env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session
def lint(session):
    session.install("ruff")
    session.run("ruff", "check", "packages", "tests")


@nox.session
def array_api(session):
    """The data-apis array-api-tests suite on plax.numpy, with its tally (README "Array API").
    Point it at a checkout of github.com/data-apis/array-api-tests (with its array-api
    submodule): `nox -s array_api -- CHECKOUT [pytest args]` or ARRAY_API_TESTS_DIR=CHECKOUT;
    `--module jax.numpy` measures JAX the same way. Not part of `nox -s tests`."""
    install_plax(session)
    session.install("pytest>=8", "pytest-xdist", "pytest-json-report", "hypothesis>=6.151",
                    "ndindex>=1.8", "jax", "jaxlib")
    session.run("python", "array_api/run.py", *session.posargs,
                env={"TF_CPP_MIN_LOG_LEVEL": "2"})
