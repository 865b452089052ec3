from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)
