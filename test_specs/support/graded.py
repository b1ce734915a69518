"""One decorator for a graded spec, composed from gradescope-utils' own decorators."""

from __future__ import annotations

from gradescope_utils.autograder_utils.decorators import number, partial_credit, tags, visibility, weight


def graded(test_number: str, points: float = 1, visible: str = "visible", partial: bool = False, *labels: str):
    """Points, number, visibility (and partial credit) of a spec, as gradescope-utils records them."""

    def apply(func):
        func = tags(*labels)(visibility(visible)(number(test_number)(func)))
        if partial:
            wrapped = partial_credit(points)(func)
            for attr in ("__number__", "__visibility__", "__tags__"):
                setattr(wrapped, attr, getattr(func, attr))
            return wrapped
        return weight(points)(func)

    return apply
