"""Test numbers: one sort order and one section for the plugin, the reports and the class summary; and the
per-section rows that the terminal report and the HTML feedback page both show."""

from __future__ import annotations

import io
import itertools

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from grader.render.feedback_html import render
from grader.render.sections import SectionRow, section_rows
from grader.render.terminal import print_report
from grader.results import GradeResult, TestResult, number_key, section_of


def test_numbers_sort_part_by_part_as_numbers():
    numbers = ["2.4", "1.1.10", "0", "1.2.999", "1.1.a", "", "1.1.9", "1.2.1", "2", "1.1.2", "10.1", "2.10"]
    assert sorted(numbers, key=number_key) == ["0", "1.1.2", "1.1.9", "1.1.10", "1.1.a", "1.2.1", "1.2.999", "2",
                                               "2.4", "2.10", "10.1", ""]


def test_sections_of_odd_numbers():
    assert [section_of(n) for n in ("1.1.7", "1.2.999", "2", "2.4", "2.10.1", "0", "", "1.1.a", "1", "20.1")] == \
        ["1.1", "1.2", "2", "2", "2", "0", "", "1.1", "1", "20.1"]
    assert TestResult("t", "2.4", 1, 1, "passed").section == "2"


number = st.lists(st.one_of(st.integers(0, 10**7).map(str), st.text("ab.", max_size=3)), min_size=1,
                  max_size=4).map(".".join)


@given(st.lists(number, max_size=12))
def test_the_order_is_total_and_numeric_parts_compare_as_numbers(numbers):
    ordered = sorted(numbers, key=number_key)  # never compares an int with a str
    for a, b in itertools.pairwise(ordered):
        pa, pb = a.split("."), b.split(".")
        if len(pa) == len(pb) and pa[:-1] == pb[:-1] and pa[-1].isdigit() and pb[-1].isdigit():
            assert int(pa[-1]) <= int(pb[-1])


@given(number)
def test_a_section_is_a_prefix_of_its_number(n):
    section = section_of(n)
    assert n == section or n.startswith(section + ".") or section == "2"


def _result() -> GradeResult:
    tests = [TestResult("a", "1.1.1", 1, 1, "passed"), TestResult("b", "1.1.2", 0.5, 2, "failed"),
             TestResult("c", "1.2.1", 10, 10, "passed"), TestResult("d", "2.4", 0, 3, "failed")]
    return GradeResult(tests=tests, execution_time=1.0, isolation="process", seed="s" * 16,
                       hand_graded=["written answers (PA3_qa.pdf)"])


def test_section_rows_are_the_table_of_both_reports():
    rows = section_rows(_result())
    assert rows == [SectionRow("Section 1.1: layers, activations and loss", "1 / 2", "1.5 / 3"),
                    SectionRow("Section 1.2: the two-layer model", "1 / 1", "10 / 10"),
                    SectionRow("Section 2: PyTorch MLP notebook", "0 / 1", "0 / 3"),
                    SectionRow("written answers (PA3_qa.pdf)", "", "hand-graded", hand_graded=True)]
    page = render(_result())
    assert ("<tr><td>Section 1.1: layers, activations and loss</td><td>1 / 2</td><td>1.5 / 3</td></tr>" in page
            and "<tr><td class='muted'>written answers (PA3_qa.pdf)</td><td></td><td class='muted'>hand-graded</td>"
            "</tr>" in page)
    out = io.StringIO()
    print_report(_result(), Console(file=out, width=120, highlight=False))
    lines = out.getvalue().splitlines()
    assert any("Section 1.2: the two-layer model" in line and "1 / 1" in line and "10 / 10" in line for line in lines)
    assert any("written answers (PA3_qa.pdf)" in line and "hand-graded" in line for line in lines)
