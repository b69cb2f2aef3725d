"""Shared pytest options and the PyTorch guard.

PyTorch is only a test oracle: graphgrad needs NumPy alone, and without torch every
finite-difference and NumPy test still runs; only the comparisons with torch skip.

- ``@pytest.mark.torch`` marks a test that compares against PyTorch: it skips when torch
  cannot be imported (a test file then does ``try: import torch`` / ``except
  ImportError: torch = None`` at the top). A whole file of torch comparisons may instead
  start with ``torch = pytest.importorskip("torch")``. The ``torch`` fixture gives the
  module to one test, or skips it.
- ``--without-torch`` hides an installed torch (``import torch`` raises ImportError), to
  check the above on a machine that has it: ``pytest --without-torch``.
- ``--fuzz-examples N`` runs the PyTorch fuzzer longer.
"""

from __future__ import annotations

import sys

import pytest


def pytest_addoption(parser) -> None:
    parser.addoption("--fuzz-examples", type=int, default=None,
                     help="number of random programs per fuzz test (default: a quick run)")
    parser.addoption("--without-torch", action="store_true", default=False,
                     help="hide an installed torch, as on a machine without it: the torch "
                          "comparisons skip, everything else must still pass")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "torch: compares against PyTorch; skipped when torch is not installed")
    if config.getoption("--without-torch"):
        if "torch" in sys.modules and sys.modules["torch"] is not None:
            raise pytest.UsageError("--without-torch: torch was imported before the tests")
        sys.modules["torch"] = None  # `import torch` now raises ImportError


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config, items) -> None:
    if _have_torch():
        return
    skip = pytest.mark.skip(reason="compares against PyTorch, which is not installed")
    for item in items:
        if item.get_closest_marker("torch") is not None:
            item.add_marker(skip)


@pytest.fixture
def torch():
    """The torch module, or skip the test (torch is only a test oracle)."""
    return pytest.importorskip("torch")
