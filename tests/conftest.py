import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# huggingface_hub reads HF_HUB_OFFLINE once, when first imported: import it before any test
# sets that variable, or (under pytest-xdist's ordering) a worker keeps "offline" for good.
import huggingface_hub.constants  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEZOO_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root():
    """The real datasets (../shared/data, or $FACEZOO_DATA); tests using it skip without it."""
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}")
    return DATA


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """A running test Hub (tests/hub_server.py), an empty cache, a token, and the network
    flags cleared."""
    from hub_server import HubServer

    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


# keras-hub's convention: tests marked `large` (minutes each on a 2-core CPU, and covering
# what a cheaper test of the same code already covers) run only with `pytest --run-large`.
def pytest_addoption(parser):
    parser.addoption("--run-large", action="store_true", help="also run the tests marked large")


def pytest_configure(config):
    config.addinivalue_line("markers", "large: minutes on a CPU; run with --run-large")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-large"):
        return
    skip = pytest.mark.skip(reason="large (minutes on a CPU): run with pytest --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)
