"""Feedback gives a relative error only where the expected value is not 0 (else it reads "rel error 7e+300")."""

from __future__ import annotations

import numpy as np
import pytest

from test_specs.support.compare import SpecFailure, assert_close, assert_scalar, error_text


def message(call) -> str:
    with pytest.raises(SpecFailure) as info:
        call()
    return str(info.value)


def test_an_expected_zero_gets_the_absolute_error_only():
    text = message(lambda: assert_close(np.array([[0.0, 2.0]]), np.array([[0.7, 2.0]]), "ReLU.forward"))
    assert "abs error 7.00e-01, rel error 1.00e+00" in text  # 0.7 expected: relative error means something
    text = message(lambda: assert_close(np.array([[0.7, 2.0]]), np.array([[0.0, 2.0]]), "ReLU.forward"))
    assert "abs error 7.00e-01; the expected value is 0, so no relative error" in text and "e+300" not in text
    # a value that is 0 next to the rest of the array (rounding noise) counts as 0 too
    assert "no relative error" in error_text(1e-3, 1e-20, scale=5.0)
    assert "rel error" in error_text(1.5, 1.0, scale=5.0)


def test_a_scalar_expected_zero_reads_the_same():
    text = message(lambda: assert_scalar(0.25, 0.0, "CrossEntropyLoss.forward"))
    assert "no relative error" in text and "e+300" not in text
    assert "rel error 2.50e-01" in message(lambda: assert_scalar(1.25, 1.0, "CrossEntropyLoss.forward"))
