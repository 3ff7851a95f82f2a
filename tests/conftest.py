import os
from pathlib import Path

import pytest

from turtle_id.encoder import Encoder
from turtle_id.settings import ASSETS

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(ASSETS / "encoder.onnx")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: missing data fails under CI (it must be there) and skips elsewhere."""
    if not SHARED_DATA.is_dir():
        message = f"{SHARED_DATA} is missing: these tests read the real dev photos from it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA
