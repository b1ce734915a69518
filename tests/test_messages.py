"""Student-facing text from one place (grader.messages) and the grading context's stash key (grader.plugin)."""

from __future__ import annotations

import pytest

from grader import messages, plugin
from grader.results import not_graded
from grader.sandbox.errors import CallTimedOut, StudentRaised, Unavailable, WorkerDied


def test_the_grader_error_text_is_the_one_students_read():
    assert messages.grader_error("grader error while running the notebook", "OSError: x") == (
        "grader error while running the notebook (not your fault; please tell the course staff): OSError: x")
    assert messages.explain(RuntimeError("boom")).startswith(
        "grader error (not your fault; please tell the course staff):\n")
    assert not_graded("no submission", 0.0).tests[0].output == "no submission; please tell the course staff"


def test_explain_adds_the_hint_of_what_the_student_raised():
    assert messages.explain(AssertionError()) == "assertion failed"
    assert messages.explain(AssertionError("expected 1")) == "expected 1"
    text = messages.explain(StudentRaised("NotImplementedError", "ReLU.forward"))
    assert "your code raised NotImplementedError" in text and messages.HINTS["NotImplementedError"] in text
    assert messages.explain(CallTimedOut("did not return within 20 s")).startswith("your code did not return")
    assert messages.explain(WorkerDied("killed")) == "the process running your code ended: killed"


def test_a_cut_short_test_reads_as_cut_short():
    """grade.py counts these prefixes to tell the TA a grading was cut short: the sandbox must use them."""
    reason = messages.NOT_RUN + messages.DEADLINE_REACHED
    assert messages.explain(Unavailable(reason)).startswith(messages.CUT_SHORT)


def test_the_plugin_puts_the_context_in_the_config_stash():
    class Config:
        stash = pytest.Stash()

    context = object()
    plugin.ResultsPlugin(context).pytest_configure(Config)
    assert Config.stash[plugin.CONTEXT] is context and not hasattr(Config, "pa3")
