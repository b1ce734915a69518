"""Fixtures of the graded specs. The harness (grader.plugin) puts the grading context in pytest's
``config.stash`` under ``grader.plugin.CONTEXT``."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from test_specs.support.student import Student


@pytest.fixture(scope="session")
def ctx(request):
    from grader.plugin import CONTEXT

    context = request.config.stash.get(CONTEXT, None)
    if context is None:
        pytest.exit("the specs run through `pa3 grade` or `pa3 check`, which provide the submission", returncode=4)
    return context


@pytest.fixture(scope="session")
def student(ctx) -> Student:
    return Student(ctx.sandbox, ctx.sources, ctx.problems)


@pytest.fixture
def rng(ctx, request) -> np.random.Generator:
    """Inputs drawn from the submission's seed and the test's name: a regrade sees the same inputs."""
    digest = hashlib.sha256(f"{ctx.seed}:{request.node.name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
