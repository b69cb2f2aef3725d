"""Shared pytest options: ``--fuzz-examples N`` runs the PyTorch fuzzer longer."""

from __future__ import annotations


def pytest_addoption(parser) -> None:
    parser.addoption("--fuzz-examples", type=int, default=None,
                     help="number of random programs per fuzz test (default: a quick run)")
