"""Grader code that runs in the student's kernel for the hidden tests of 01-data-wrangling.

The tests send this module's source into the kernel as a module of its own (``_g_lab``), so its
names cannot clash with the student's. Frames travel as CSV text and are read here with
``pd.read_csv``, exactly as the notebook reads its files; what comes back is plain data (lists,
arrays, numbers, strings) that the tests judge in the grader: a date index, a figure or an SQLite
file cannot cross the boundary, their facts can.
"""

import io
import os
import sqlite3
import tempfile

import numpy as np
import pandas as pd


def frame(text, dates=()):
    """A DataFrame read from CSV text, with the columns ``dates`` parsed as datetimes."""
    return pd.read_csv(io.StringIO(text), parse_dates=list(dates))


def series(dates, values):
    """A float Series indexed by the dates given as "YYYY-MM-DD" texts."""
    return pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(pd.to_datetime(dates)))


def dated(result):
    """(type name, the index as "YYYY-MM-DD" texts, the values as floats) of a date-indexed result."""
    index = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in result.index]
    return type(result).__name__, index, np.asarray(result, dtype=float).ravel()


def frame_facts(result):
    """(type name, column names, index name, index, {column: values}) of a DataFrame, as plain data:
    dates as ISO texts, labels as texts."""
    columns = [str(c) for c in result.columns]
    values = {str(c): _plain(result.iloc[:, i]) for i, c in enumerate(result.columns)}
    index = [str(v) for v in result.index]
    name = result.index.name if isinstance(result.index.name, str) else None
    return type(result).__name__, columns, name, index, values


def _plain(column):
    """A column's values as plain data: a date as its ISO text, a missing value as None."""
    if column.dtype.kind == "M":
        return [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in column]
    return [None if pd.isna(v) else v for v in column.tolist()]


def temporary_database():
    """The path of a new, empty SQLite file."""
    handle, path = tempfile.mkstemp(suffix=".sqlite")
    os.close(handle)
    os.remove(path)
    return path


def database(orders, customers):
    """A new SQLite file holding ``orders`` and ``customers`` (as given) as tables of those names."""
    path = temporary_database()
    con = sqlite3.connect(path)
    try:
        orders.to_sql("orders", con, index=False)
        customers.to_sql("customers", con, index=False)
    finally:
        con.close()
    return path


def tables(path):
    """Each table of the SQLite file at ``path``: {name: {column: values}}, read by a connection of our own."""
    con = sqlite3.connect(path)
    try:
        names = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: pd.read_sql_query(f'SELECT * FROM "{name}"', con).to_dict(orient="list") for name in names}
    finally:
        con.close()


def figure_facts(fig):
    """What a figure shows: its type, its title, and per Axes the y data of each line, the number
    of bars, the axis labels and the title."""
    kind = type(fig).__module__.split(".")[0] + "." + type(fig).__name__
    axes = [{"lines": [np.asarray(line.get_ydata(), dtype=float).tolist() for line in ax.get_lines()],
             "bars": sum(len(c) for c in ax.containers),
             "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "title": ax.get_title()}
            for ax in (fig.axes if kind == "matplotlib.Figure" else [])]
    suptitle = fig.get_suptitle() if kind == "matplotlib.Figure" else ""
    return {"type": kind, "suptitle": suptitle, "axes": axes}


def close_figures():
    """Close every figure: the tests' plots must not pile up in the kernel's memory."""
    import matplotlib.pyplot as plt

    plt.close("all")
