"""Student text made inert for where a TA reads it: a spreadsheet cell, a browser, a terminal.

Each writer of TA-facing output passes what a student controls (ids, names, e-mails, file names,
exception texts, notes) through one of these, so that it is shown, never obeyed.
"""

from __future__ import annotations

import re

# OWASP's CSV-injection rule: a cell starting with one of these is read as a formula (or a DDE call) by
# Excel, LibreOffice and Google Sheets. The full-width forms are read as formulas by Excel in East Asian
# locales. Leading spaces and line breaks are skipped by some of them before they look.
FORMULA_START = tuple("=+-@\t\r\n") + ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> str:
    """A student-controlled cell as text a spreadsheet shows as it is: one that would start a formula (after
    any leading whitespace) gets a leading single quote, which spreadsheets hide and take as "this is text".
    Control characters are written out as for a terminal (a TA may ``cat`` the file). Numbers the grader
    computes are not passed through this: they stay numeric."""
    text = terminal_text("" if value is None else value)
    if text.lstrip(" \t\r\n\v\f\u00a0").startswith(FORMULA_START) or text.startswith(FORMULA_START):
        return "'" + text
    return text


# Scripts are refused outright; inline styles and data: images (the summary's plots) are all a page uses.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


# What a terminal obeys rather than shows: C0 controls but newline and tab, DEL, C1 controls (U+0080-U+009F,
# 0x9B being a one-byte CSI), and the bidirectional overrides and isolates that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(text: object) -> str:
    """``text`` safe to print on a terminal: every control character (ESC included, so no escape sequence
    survives) is written out as a visible ``\\xNN`` / ``\\uNNNN``, so the TA sees that it was there.
    Windows line ends become plain newlines."""
    return _CONTROL.sub(_visible, str(text).replace("\r\n", "\n"))

