import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEZOO_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root():
    """The real datasets (../shared/data, or $FACEZOO_DATA); tests using it skip without it."""
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}")
    return DATA
