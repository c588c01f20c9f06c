"""A pytest plugin for running data-apis/array-api-tests on plax (`nox -s array_api`).

It keeps the suite's Hypothesis profile (examples, derandomize, deadline) but drops the
shrink phase: a failing example is reported as first found instead of being minimized, which
turns a run of hours into minutes without changing which tests pass. Like the deadline (off,
as in JAX's CI), the too-slow health check times input generation, so on a loaded machine
it fails tests at random: it is suppressed too."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from hypothesis import HealthCheck, Phase, settings
    base = settings.get_profile("array-api-tests")
    settings.register_profile(
        "array-api-tests-noshrink",
        parent=base,
        phases=[p for p in base.phases if p is not Phase.shrink],
        suppress_health_check=[*base.suppress_health_check, HealthCheck.too_slow],
    )
    settings.load_profile("array-api-tests-noshrink")
