# the conformance kit, enabled with one line: the `check_primitive` fixture, plax's
# check_rules on
pytest_plugins = ["plax.extend.testing"]
