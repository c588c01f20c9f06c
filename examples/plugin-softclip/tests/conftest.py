# the conformance kit, enabled with one line: the `check_primitive` fixture, plax's
# check_avals on
pytest_plugins = ["plax.extend.testing"]
