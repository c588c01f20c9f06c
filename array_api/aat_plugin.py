"""A pytest plugin for running data-apis/array-api-tests on plax (`nox -s array_api`).

It keeps the suite's Hypothesis profile (examples, derandomize, deadline) but drops the
shrink phase: a failing example is reported as first found instead of being minimized, which
turns a run of hours into minutes without changing which tests pass."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from hypothesis import Phase, settings
    base = settings.get_profile("array-api-tests")
    settings.register_profile(
        "array-api-tests-noshrink",
        parent=base,
        phases=[p for p in base.phases if p is not Phase.shrink],
    )
    settings.load_profile("array-api-tests-noshrink")
