"""The terminal report (rich): a per-section table, then each failure with what was expected and a hint."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.render.inert import terminal_text
from grader.render.sections import section_rows
from grader.results import GradeResult


def inert_result(result: GradeResult) -> GradeResult:
    """``result`` with every text a submission can reach (test names and outputs, notes) made safe for a terminal.

    The one choke point of both reports: rich escapes markup (or is given plain Text) but prints raw escape
    sequences as they are, so ESC, other controls and bidi overrides are written out visibly here first.
    """
    tests = [replace(t, name=terminal_text(t.name), number=terminal_text(t.number), output=terminal_text(t.output))
             for t in result.tests]
    return replace(result, tests=tests, notes=[terminal_text(n) for n in result.notes],
                   isolation=terminal_text(result.isolation), seed=terminal_text(result.seed),
                   hand_graded=[terminal_text(h) for h in result.hand_graded])


def print_report(result: GradeResult, console: Console | None = None, show_hidden: bool = True,
                 title: str = "PA3 autograder") -> None:
    console = console or Console(highlight=False)
    result = inert_result(result)
    table = Table(title=f"{title}: {result.score:g} / {result.max_score:g} points")
    table.add_column("Section")
    table.add_column("Tests passed", justify="right")
    table.add_column("Points", justify="right")
    for row in section_rows(result):
        if row.hand_graded:
            table.add_row(f"[dim]{row.label}[/dim]", row.passed, f"[dim]{row.points}[/dim]")
        else:
            table.add_row(row.label, row.passed, row.points)
    console.print(table)
    console.print(f"[dim]isolation: {result.isolation}; hidden-test seed {result.seed[:16]}; "
                  f"{result.execution_time:.2f} s[/dim]")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    # One cause (no data, no notebook, a broken file) fails many tests with the same message: show it once.
    same: dict[str, list] = {}
    for test in result.tests:
        if test.status == "failed" and (show_hidden or test.visibility == "visible"):
            same.setdefault(test.output or "failed", []).append(test)
    for output, tests in same.items():
        test = tests[0]
        title = f"{test.number}  {test.name}  ({test.score:g}/{test.max_score:g})"
        if len(tests) > 1:
            output += f"\nthe same failure in {len(tests) - 1} more: " + ", ".join(t.number for t in tests[1:])
        console.print(Panel(Text(output), title=Text(title), title_align="left", border_style="red"))


STATE_STYLE = {"done": "green", "failing": "red", "not started": "yellow", "not loaded": "red"}


def print_progress(result: GradeResult, console: Console | None = None, scope: str = "",
                   not_limited: list[str] = ()) -> None:
    """The self-check report: one line per member (done / failing n of m tests / not started), then the
    failures of failing members with what was expected, what came back and a hint. ``scope``: the member
    names the student asked for (empty: all)."""
    from grader.progress import FAILING, progress

    console = console or Console(highlight=False)
    result = inert_result(result)
    entries = progress(result)
    parts: list = []  # printed once at the end: one output, not one per line, in a Jupyter cell

    def line(text: str, markup: bool = True) -> None:
        parts.append(Text.from_markup(text) if markup else Text(text))

    # Student-influenced text (notes, test output, names) is escaped or plain Text, never markup.
    line(f"[bold]PA3 self-check{' of ' + escape(scope) if scope else ''}: {result.score:g} / {result.max_score:g} "
         f"points on the visible tests[/bold] ({result.execution_time:.1f} s)")
    for entry in entries:
        style = STATE_STYLE.get(entry.state, "")
        line(f"  [{style}]{entry.state:<11}[/{style}]  {escape(f'{entry.member:<28}  {entry.summary()}')}")
    if not entries:
        line("  no tests ran")
    shown: dict[str, str] = {}  # one crash or one broken file fails many tests the same way: show it once
    for entry in (e for e in entries if e.state == FAILING):
        line(f"\n[bold]{escape(entry.member)}[/bold]: {escape(entry.summary())}")
        same: dict[str, list] = {}
        for test in entry.failed:
            same.setdefault(test.output or "failed", []).append(test)
        for output, tests in same.items():
            numbers = ", ".join(t.number for t in tests)
            if output in shown:
                line(f"  {numbers}: the same failure as {shown[output]} above", markup=False)
                continue
            test = tests[0]
            shown[output] = test.number
            if len(tests) > 1:
                output += f"\n  the same failure in {len(tests) - 1} more: " + ", ".join(t.number for t in tests[1:])
            title = f"{test.number}  {test.name}  ({test.score:g}/{test.max_score:g})"
            parts.append(Panel(Text(output), title=Text(title), title_align="left", border_style="red"))
    line(f"[dim]isolation: {escape(result.isolation)}[/dim]")
    if not_limited:
        line("[yellow]not limited here:[/yellow]")
        for gap in not_limited:
            line(f"  - {gap}", markup=False)
    for note in result.notes:
        line(f"[yellow]note:[/yellow] {escape(note)}")
    passed = all(t.status == "passed" for t in result.tests)
    if scope:
        line(f"Visible tests of {scope}: {result.score:g} / {result.max_score:g} points"
             + ("; all passed." if passed else "."), markup=False)
    else:
        line(f"Visible tests: {result.score:g} / {result.max_score:g} points"
             + ("; all passed." if passed else "; hidden tests and hand-graded parts not included."), markup=False)
    console.print(Group(*parts))
