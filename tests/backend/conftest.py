"""Fixtures every backend test folder may use."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread for the test: on the shared 2-core machines two threads run many times slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
