"""Time budgets. The grader's own deadlines are derived from the outer limits that could kill it
(Gradescope's autograder timeout, `pa3 batch --timeout`), so results are always written first."""

from __future__ import annotations

GRADESCOPE_TIMEOUT = 600.0  # s: Gradescope's default autograder timeout (PA3_GRADESCOPE_TIMEOUT when raised)
BATCH_TIMEOUT = 3600.0      # s: `pa3 batch --timeout` default, and the outer bound assumed for `pa3 grade`
NUMPY_BUDGET = 120.0        # s: Sections 1.1 and 1.2 as a whole (an honest submission needs about 2 s)


def reserve(outer_limit: float) -> float:
    """Seconds kept between the grader's deadline and an outer limit: stopping the test in progress,
    cleaning up and writing results take a few seconds; a busy machine gets margin."""
    return max(30.0, 0.1 * outer_limit)


def deadline_within(outer_limit: float) -> float:
    """The grader's deadline (seconds from its start) when something kills it after ``outer_limit`` s."""
    return max(outer_limit - reserve(outer_limit), 0.5 * outer_limit)


DEFAULT_DEADLINE = deadline_within(BATCH_TIMEOUT)


def effective_deadline(requested: float | None, outer_limit: float | None = None) -> float:
    """``requested`` (or the default), never beyond what ``outer_limit`` allows."""
    limit = deadline_within(outer_limit) if outer_limit else DEFAULT_DEADLINE
    return limit if requested is None or requested <= 0 else min(requested, limit)
