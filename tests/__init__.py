"""The test suite: a package, so its modules and the bench scripts import shared helpers as `tests.…`."""
