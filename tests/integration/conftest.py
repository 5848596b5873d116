import pytest


@pytest.fixture(autouse=True)
async def _clean(clean_state: None) -> None:
    """Every integration test starts from empty collections and an empty Redis."""
