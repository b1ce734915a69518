"""The terminal report (rich): a per-section table, then each failure with what was expected and a hint."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from grader.results import SECTIONS, GradeResult


def print_report(result: GradeResult, console: Console | None = None, show_hidden: bool = True,
                 title: str = "PA3 autograder") -> None:
    console = console or Console(highlight=False)
    table = Table(title=f"{title}: {result.score:g} / {result.max_score:g} points")
    table.add_column("Section")
    table.add_column("Tests passed", justify="right")
    table.add_column("Points", justify="right")
    for section, tests in result.by_section().items():
        passed = sum(t.status == "passed" for t in tests)
        points = sum(t.score for t in tests)
        table.add_row(SECTIONS.get(section, section), f"{passed} / {len(tests)}",
                      f"{points:g} / {sum(t.max_score for t in tests):g}")
    for item in result.hand_graded:
        table.add_row(f"[dim]{item}[/dim]", "", "[dim]hand-graded[/dim]")
    console.print(table)
    console.print(f"[dim]isolation: {result.isolation}; hidden-test seed {result.seed[:16]}; "
                  f"{result.execution_time:.2f} s[/dim]")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for test in result.tests:
        if test.status == "failed" and (show_hidden or test.visibility == "visible"):
            title = f"{test.number}  {test.name}  ({test.score:g}/{test.max_score:g})"
            console.print(Panel(test.output or "failed", title=title, title_align="left", border_style="red"))
