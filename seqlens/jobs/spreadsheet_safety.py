"""CSV cells that a spreadsheet would run as a formula, neutralised (CSV / formula injection).

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@` as a
formula (and a leading tab or carriage return can hide one), so a text from a log such as
`=HYPERLINK("http://evil", "click")` would run when an analyst opens the scored CSV. As OWASP
recommends, such string cells get a leading `'`, which spreadsheets show as text. Only string
cells change: a numeric column (a score of `-0.5`) stays a number, and other formats (Parquet,
JSON Lines) keep the raw text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """`'` + `value` when `value` is a string a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose string cells (object or string columns) are formula-safe.

    Args:
        frame: the table about to be written as CSV.

    Returns:
        The same columns and dtypes; numeric, boolean and datetime columns are untouched.
    """
    safe = frame.copy()
    for column in safe.columns:
        dtype = safe[column].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            values = safe[column]
            risky = values.map(lambda value: neutralise_formula(value) is not value)
            risky = risky.fillna(False).astype(bool)  # missing cells stay missing
            if risky.any():
                safe.loc[risky, column] = "'" + values[risky].astype(str)
    return safe


def write_safe_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write `frame` as an RFC 4180 CSV (CRLF lines) with formula-safe string cells.

    The CRLF line terminator makes the `csv` writer quote every cell holding a carriage return
    (with `\\n` lines it leaves a lone `\\r` unquoted, which splits the row in a spreadsheet and
    lets the rest of the cell start a row of its own).

    Args:
        frame: the table.
        path: the CSV file to write.
    """
    neutralise_formula_cells(frame).to_csv(path, index=False, lineterminator="\r\n")
