import pytest

# Browser test modules import helpers from the module they also load as a plugin: have its
# asserts rewritten like a conftest's, before the first import.
pytest.register_assert_rewrite("tests.browser_support")
