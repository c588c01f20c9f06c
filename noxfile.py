"""Developer sessions: `nox -s tests`, `nox -s demo`, `nox -s bench`, `nox -s lint`."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PACKAGES = ["packages/core", "packages/transforms", "packages/backend-xla",
            "packages/backend-cupy"]
TEST_DEPS = ["pytest>=8", "pytest-xdist", "jax", "jaxlib", "scikit-learn"]


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
def lint(session):
    session.install("ruff")
    session.run("ruff", "check", "packages", "tests")
