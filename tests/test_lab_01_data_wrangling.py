"""The 01-data-wrangling lab graded end to end: the solution, the untouched student notebook,
correct solutions in other styles, and typical mistakes, in one sandboxed ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/01-data-wrangling/``. Each is the
solution with some answer cells (found by tag) replaced by the sources below, so that they stay
realistic. A test below checks the files still match that recipe;
``python tests/test_lab_01_data_wrangling.py`` rewrites them after the solution changes.

Each mistake must cost exactly the tests named in ``EXPECTED_LOSSES``, all of its own exercise.
The lab's real-world concern, joins that fan out and a ``dropna`` that deletes, must weigh at least
15 % of the lab.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, KeptNotebooks
from lab_suite import LabSuite, solution_cell

LAB = "01-data-wrangling"

# --- correct solutions in other styles -----------------------------------------------------

CHAINED = {
    "q1": '''def shipping_fees(amounts, weights):
    """Every fee computed, then zeroed from 50.00 on."""
    fee = 4.90 + 1.20 * np.maximum(weights, 2.0) - 2.40
    return fee * (amounts < 50.0)''',
    "q2": '''def parse_amount(text):
    return text.str.replace(r"[€,\\s]", "", regex=True).astype(float)


def parse_dates(text):
    """German dates rewritten year first, then one explicit format."""
    iso = text.str.replace(r"^(\\d{2})\\.(\\d{2})\\.(\\d{4})$", r"\\3-\\2-\\1", regex=True)
    return pd.to_datetime(iso, format="%Y-%m-%d")


def normalise_city(city):
    return city.fillna("unknown").str.strip().str.lower().str.title()


def clean_orders(raw):
    return (
        raw.assign(
            amount=lambda d: parse_amount(d["amount"]),
            order_date=lambda d: parse_dates(d["order_date"]),
            city=lambda d: normalise_city(d["city"]),
        )
        .query("amount <= 5000")  # NaN compares False: missing amounts go too
        .drop_duplicates("order_id", keep="last")
        .loc[:, ["order_id", "order_date", "customer_id", "city", "amount", "coupon"]]
    )''',
    "q3": '''def join_segments(orders, customers):
    segments = customers.groupby("customer_id", as_index=False)["segment"].first()
    return orders.merge(segments, how="left", on="customer_id", validate="m:1")


def damage(orders, customers):
    fanned = pd.merge(orders, customers, on="customer_id", how="inner")
    kept = orders.dropna(how="any")
    return dict(
        join_extra_rows=int(fanned.shape[0] - orders.shape[0]),
        join_extra_revenue=float(fanned.amount.sum() - orders.amount.sum()),
        dropna_lost_rows=int(orders.shape[0] - kept.shape[0]),
        dropna_lost_revenue=float(orders.amount.sum() - kept.amount.sum()),
    )''',
    "q4": '''def city_summary(orders):
    return (orders.groupby("city")["amount"]
            .agg(orders="count", revenue="sum", avg_order="mean")
            .sort_values("revenue", ascending=False)
            .reset_index())


def monthly_pivot(orders):
    month = orders["order_date"].dt.to_period("M").astype(str)
    return orders.groupby(["city", month])["amount"].sum().unstack(fill_value=0.0)''',
    "q5": '''def daily_revenue(orders):
    per_day = orders.groupby(orders["order_date"].dt.normalize())["amount"].sum()
    days = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D")
    return per_day.reindex(days, fill_value=0.0)


def weekly_revenue(orders):
    return daily_revenue(orders).resample("W-SUN").sum()''',
    "q6": '''from contextlib import closing


def save_to_sqlite(orders, customers, path):
    with closing(sqlite3.connect(path)) as con:
        orders.to_sql("orders", con, if_exists="replace", index=False)
        customers.to_sql("customers", con, if_exists="replace", index=False)


def sql_city_summary(con):
    rows = con.execute("""
        SELECT city, COUNT(order_id), SUM(amount), AVG(amount)
        FROM orders GROUP BY city ORDER BY 3 DESC
    """).fetchall()
    return pd.DataFrame(rows, columns=["city", "orders", "revenue", "avg_order"])


def sql_segment_revenue(con):
    rows = con.execute("""
        SELECT c.segment, SUM(o.amount)
        FROM orders AS o
        JOIN (SELECT customer_id, MIN(segment) AS segment FROM customers GROUP BY customer_id) AS c
          USING (customer_id)
        GROUP BY c.segment ORDER BY c.segment
    """).fetchall()
    return pd.DataFrame(rows, columns=["segment", "revenue"])''',
    "q7": '''def plot_weekly_revenue(weekly):
    fig, ax = plt.subplots()
    weekly.plot(ax=ax, kind="line", title="Revenue per week")
    ax.set(xlabel="week", ylabel="revenue in euros")
    return fig''',
}

STEPWISE = {
    "q1": '''def shipping_fees(amounts, weights):
    fees = 4.90 + 1.20 * (weights - 2.0).clip(min=0.0)
    fees[amounts >= 50.0] = 0.0
    return fees''',
    "q2": '''from datetime import datetime


def _amount(text):
    if pd.isna(text):
        return np.nan
    return float(text.replace("€", "").replace(",", "").strip())


def parse_amount(text):
    return text.map(_amount).astype(float)


def _date(text):
    return datetime.strptime(text, "%d.%m.%Y" if "." in text else "%Y-%m-%d")


def parse_dates(text):
    return pd.to_datetime(text.apply(_date))


def normalise_city(city):
    names = city.str.strip()
    names = names.str[:1].str.upper() + names.str[1:].str.lower()
    return names.fillna("Unknown")


def clean_orders(raw):
    orders = raw.copy()
    orders["amount"] = parse_amount(orders["amount"])
    orders["order_date"] = parse_dates(orders["order_date"])
    orders["city"] = normalise_city(orders["city"])
    print("missing amounts:", orders["amount"].isna().sum())
    orders = orders[orders["amount"].notna()]
    print("test orders:", (orders["amount"] > 5000).sum())
    orders = orders[orders["amount"] <= 5000.0]
    print("duplicates:", orders["order_id"].duplicated().sum())
    orders = orders[~orders["order_id"].duplicated()]
    return orders[["order_id", "order_date", "customer_id", "city", "amount", "coupon"]]''',
    "q3": '''def join_segments(orders, customers):
    segment_of = customers.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    joined = orders.copy()
    joined["segment"] = joined["customer_id"].map(segment_of)
    return joined


def damage(orders, customers):
    """Counted without doing the careless steps: each order is repeated once per copy of its customer."""
    copies = orders["customer_id"].map(customers["customer_id"].value_counts())
    incomplete = orders.isna().any(axis=1)
    return {
        "join_extra_rows": int((copies - 1).sum()),
        "join_extra_revenue": float(((copies - 1) * orders["amount"]).sum()),
        "dropna_lost_rows": int(incomplete.sum()),
        "dropna_lost_revenue": float(orders.loc[incomplete, "amount"].sum()),
    }''',
    "q4": '''def city_summary(orders):
    rows = []
    for city, group in orders.groupby("city"):
        rows.append({"city": city, "orders": len(group), "revenue": group["amount"].sum(),
                     "avg_order": group["amount"].mean()})
    table = pd.DataFrame(rows)
    return table.sort_values(by="revenue", ascending=False).reset_index(drop=True)


def monthly_pivot(orders):
    months = orders["order_date"].dt.strftime("%Y-%m")
    table = pd.crosstab(orders["city"], months, values=orders["amount"], aggfunc="sum")
    return table.fillna(0.0).sort_index()''',
    "q5": '''def daily_revenue(orders):
    per_day = orders.groupby("order_date")["amount"].sum()
    return per_day.asfreq("D", fill_value=0.0)


def weekly_revenue(orders):
    series = orders.set_index("order_date").sort_index()["amount"]
    return series.groupby(pd.Grouper(freq="W")).sum()''',
    "q6": '''def save_to_sqlite(orders, customers, path):
    con = sqlite3.connect(path)
    for name, table in (("orders", orders), ("customers", customers)):
        con.execute(f"DROP TABLE IF EXISTS {name}")
        table.to_sql(name, con, index=False)
    con.commit()
    con.close()


def sql_city_summary(con):
    return pd.read_sql("""
        SELECT city, orders, revenue, revenue / orders AS avg_order
        FROM (SELECT city, COUNT(*) AS orders, SUM(amount) AS revenue FROM orders GROUP BY city)
        ORDER BY revenue DESC""", con)


def sql_segment_revenue(con):
    return pd.read_sql("""
        SELECT (SELECT segment FROM customers AS c WHERE c.customer_id = o.customer_id LIMIT 1) AS segment,
               SUM(amount) AS revenue
        FROM orders AS o
        GROUP BY 1
        ORDER BY 1""", con)''',
    "q7": '''def plot_weekly_revenue(weekly):
    fig = plt.figure(figsize=(8, 3))
    plt.plot(weekly.index, weekly.values, "o-")
    plt.xlabel("Week")
    plt.ylabel("Revenue [EUR]")
    fig.suptitle("Revenue by week")
    return fig''',
}

NUMPY_CLASSES = {
    "q1": '''def shipping_fees(amounts, weights):
    amounts = np.asarray(amounts, dtype=np.float64)
    extra_kg = np.maximum(np.asarray(weights, dtype=np.float64) - 2.0, 0.0)
    return np.select([amounts >= 50.0], [np.zeros_like(amounts)], default=4.90 + 1.20 * extra_kg)


for amount, weight, expected in [(20.0, 3.0, 6.10), (60.0, 9.0, 0.0), (50.0, 1.0, 0.0)]:  # checks, not the answer
    assert abs(shipping_fees(np.array([amount]), np.array([weight]))[0] - expected) < 1e-9''',
    "q2": '''class OrderCleaner:
    """The cleaning rules in one place."""

    MAX_AMOUNT = 5_000
    COLUMNS = ["order_id", "order_date", "customer_id", "city", "amount", "coupon"]

    @staticmethod
    def amount(text):
        return pd.to_numeric(text.str.replace(r"[^0-9.]", "", regex=True), errors="coerce")

    @staticmethod
    def dates(text):
        german = text.str.contains(".", regex=False).to_numpy(dtype=bool)
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        parsed[~german] = pd.to_datetime(text[~german], format="%Y-%m-%d")
        parsed[german] = pd.to_datetime(text[german], format="%d.%m.%Y")
        return parsed

    @staticmethod
    def city(text):
        return text.str.strip().str.capitalize().fillna("Unknown")

    def __call__(self, raw):
        out = pd.DataFrame({"order_id": raw["order_id"], "order_date": self.dates(raw["order_date"]),
                            "customer_id": raw["customer_id"], "city": self.city(raw["city"]),
                            "amount": self.amount(raw["amount"]), "coupon": raw["coupon"]})
        out = out[out["amount"].between(0, self.MAX_AMOUNT, inclusive="right")]
        return out.groupby("order_id", as_index=False).first()[self.COLUMNS]


parse_amount = OrderCleaner.amount
parse_dates = OrderCleaner.dates
normalise_city = OrderCleaner.city
clean_orders = OrderCleaner()''',
    "q3": '''def join_segments(orders, customers):
    lookup = customers.loc[~customers["customer_id"].duplicated(keep="last")].set_index("customer_id")
    return orders.join(lookup, on="customer_id")


def damage(orders, customers):
    careless = orders.merge(customers, on="customer_id", how="left")
    complete = orders[orders.notna().all(axis="columns")]
    total = np.sum(orders["amount"].to_numpy())
    return {
        "join_extra_rows": careless.shape[0] - orders.shape[0],
        "join_extra_revenue": np.sum(careless["amount"].to_numpy()) - total,
        "dropna_lost_rows": orders.shape[0] - complete.shape[0],
        "dropna_lost_revenue": total - np.sum(complete["amount"].to_numpy()),
    }''',
    "q4": '''def city_summary(orders):
    amounts = orders.groupby("city")["amount"]
    table = pd.DataFrame({"orders": amounts.size(), "revenue": amounts.sum(), "avg_order": amounts.mean()})
    return table.sort_values("revenue", ascending=False).rename_axis("city").reset_index()


def monthly_pivot(orders):
    with_month = orders.assign(month=orders["order_date"].dt.to_period("M").dt.strftime("%Y-%m"))
    return pd.pivot_table(with_month, values="amount", index="city", columns="month", aggfunc="sum").fillna(0)''',
    "q5": '''def _revenue(orders):
    return pd.Series(orders["amount"].to_numpy(), index=pd.DatetimeIndex(orders["order_date"]))


def daily_revenue(orders):
    return _revenue(orders).resample("1D").sum(min_count=0)


def weekly_revenue(orders):
    return _revenue(orders).resample("W", label="right", closed="right").sum()''',
    "q6": '''CITY_SQL = """
WITH per_city AS (
    SELECT city, COUNT(*) AS orders, SUM(amount) AS revenue FROM orders GROUP BY city
)
SELECT city, orders, revenue, revenue * 1.0 / orders AS avg_order FROM per_city ORDER BY revenue DESC
"""

SEGMENT_SQL = """
WITH numbered AS (
    SELECT customer_id, segment,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY rowid) AS copy
    FROM customers
)
SELECT segment, SUM(amount) AS revenue
FROM orders JOIN numbered USING (customer_id)
WHERE copy = 1
GROUP BY segment ORDER BY segment
"""


def save_to_sqlite(orders, customers, path):
    con = sqlite3.connect(path)
    with con:
        orders.to_sql("orders", con, if_exists="replace", index=False)
        customers.to_sql("customers", con, if_exists="replace", index=False)
    con.close()


def sql_city_summary(con):
    return pd.read_sql_query(CITY_SQL, con)


def sql_segment_revenue(con):
    return pd.read_sql_query(SEGMENT_SQL, con)''',
    "q7": '''def plot_weekly_revenue(weekly):
    fig = plt.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(weekly.index.to_pydatetime(), weekly.to_numpy(), color="tab:green", linewidth=2)
    ax.grid(True)
    ax.set(title="Weekly revenue, January to March", xlabel="week ending", ylabel="EUR")
    return fig''',
}

BEGINNER_LOOPS = {
    "q1": '''def shipping_fees(amounts, weights):
    fees = np.full(amounts.shape, 4.90)
    heavy = weights > 2.0
    fees[heavy] += 1.20 * (weights[heavy] - 2.0)
    fees[amounts >= 50] = 0
    return fees''',
    "q2": '''def parse_amount(text):
    values = []
    for t in text:
        if isinstance(t, str):
            values.append(float(t.replace("€", "").replace(",", "").replace(" ", "")))
        else:
            values.append(float("nan"))
    return pd.Series(values, index=text.index)


def parse_dates(text):
    dates = []
    for t in text:
        if "." in t:
            day, month, year = t.split(".")
        else:
            year, month, day = t.split("-")
        dates.append(pd.Timestamp(int(year), int(month), int(day)))
    return pd.Series(dates, index=text.index)


def normalise_city(city):
    names = []
    for c in city:
        if isinstance(c, str):
            c = c.strip()
            names.append(c[0].upper() + c[1:].lower())
        else:
            names.append("Unknown")
    return pd.Series(names, index=city.index)


def clean_orders(raw):
    amounts = parse_amount(raw["amount"])
    dates = parse_dates(raw["order_date"])
    cities = normalise_city(raw["city"])
    seen, rows = set(), []
    for i in raw.index:
        order_id = raw.at[i, "order_id"]
        if order_id in seen or pd.isna(amounts[i]) or amounts[i] > 5000:
            continue
        seen.add(order_id)
        rows.append({"order_id": order_id, "order_date": dates[i], "customer_id": raw.at[i, "customer_id"],
                     "city": cities[i], "amount": amounts[i], "coupon": raw.at[i, "coupon"]})
    return pd.DataFrame(rows)''',
    "q3": '''def join_segments(orders, customers):
    last_copy = customers.groupby("customer_id").tail(1)
    joined = pd.merge(orders, last_copy[["customer_id", "segment"]], on="customer_id", how="left")
    assert len(joined) == len(orders)
    return joined


def damage(orders, customers):
    careless = orders.merge(customers, on="customer_id")
    without_missing = orders.dropna()
    result = {}
    result["join_extra_rows"] = len(careless) - len(orders)
    result["join_extra_revenue"] = round(careless["amount"].sum() - orders["amount"].sum(), 2)
    result["dropna_lost_rows"] = len(orders) - len(without_missing)
    result["dropna_lost_revenue"] = round(orders["amount"].sum() - without_missing["amount"].sum(), 2)
    return result''',
    "q4": '''def city_summary(orders):
    rows = []
    for city in orders["city"].unique():
        amounts = orders.loc[orders["city"] == city, "amount"]
        rows.append([city, len(amounts), amounts.sum(), round(amounts.mean(), 2)])
    rows.sort(key=lambda row: row[2], reverse=True)
    return pd.DataFrame(rows, columns=["city", "orders", "revenue", "avg_order"])


def monthly_pivot(orders):
    months = sorted(orders["order_date"].dt.strftime("%Y-%m").unique())
    table = pd.DataFrame(0.0, index=sorted(orders["city"].unique()), columns=months)
    for _, order in orders.iterrows():
        table.loc[order["city"], order["order_date"].strftime("%Y-%m")] += order["amount"]
    return table''',
    "q5": '''def daily_revenue(orders):
    days = pd.date_range(orders["order_date"].min(), orders["order_date"].max())
    totals = [orders.loc[orders["order_date"] == day, "amount"].sum() for day in days]
    return pd.Series(totals, index=days)


def weekly_revenue(orders):
    daily = daily_revenue(orders)
    sundays = daily.index + pd.to_timedelta(6 - daily.index.dayofweek, unit="D")
    weekly = daily.groupby(sundays).sum()
    weekly.index = pd.DatetimeIndex(weekly.index)
    return weekly''',
    "q6": '''def save_to_sqlite(orders, customers, path):
    con = sqlite3.connect(path)
    con.execute("DROP TABLE IF EXISTS orders")
    con.execute("DROP TABLE IF EXISTS customers")
    con.execute("CREATE TABLE orders (order_id INTEGER, order_date TEXT, customer_id INTEGER, city TEXT, "
                "amount REAL, coupon TEXT)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", [
        (int(o.order_id), str(o.order_date), int(o.customer_id), o.city, float(o.amount),
         None if pd.isna(o.coupon) else o.coupon) for o in orders.itertuples()])
    con.execute("CREATE TABLE customers (customer_id INTEGER, name TEXT, segment TEXT)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                    [(int(c.customer_id), c.name, c.segment) for c in customers.itertuples()])
    con.commit()
    con.close()


def sql_city_summary(con):
    sql = ("SELECT city, COUNT(*) AS orders, ROUND(SUM(amount), 2) AS revenue, ROUND(AVG(amount), 2) AS avg_order "
           "FROM orders GROUP BY city ORDER BY SUM(amount) DESC")
    return pd.read_sql_query(sql, con)


def sql_segment_revenue(con):
    sql = ("SELECT c.segment AS segment, SUM(o.amount) AS revenue FROM orders o "
           "JOIN (SELECT DISTINCT customer_id, segment FROM customers) c ON o.customer_id = c.customer_id "
           "GROUP BY c.segment ORDER BY c.segment")
    return pd.read_sql_query(sql, con)''',
    "q7": '''def plot_weekly_revenue(weekly):
    fig, ax = plt.subplots()
    ax.plot(range(len(weekly)), list(weekly))
    ax.set_xticks(range(len(weekly)), [d.strftime("%d %b") for d in weekly.index], rotation=45)
    ax.set_xlabel("week")
    ax.set_ylabel("revenue")
    ax.set_title("Revenue per week")
    return fig''',
}

CORRECT: dict[str, dict[str, str]] = {
    "correct_chained": CHAINED,
    "correct_stepwise": STEPWISE,
    "correct_numpy_classes": NUMPY_CLASSES,
    "correct_beginner_loops": BEGINNER_LOOPS,
}

# --- typical mistakes: each changes the solution's cell of one exercise ------------------------


def replaced(tag: str, old: str, new: str, *more: str) -> dict[str, str]:
    """The solution's cell ``tag`` with ``old`` replaced by ``new`` (and each further pair in ``more``)."""
    source = solution_cell(LAB, tag)
    pairs = [(old, new), *zip(more[::2], more[1::2], strict=True)]
    for before, after in pairs:
        assert before in source, f"{before!r} is not in the solution's {tag} cell"
        source = source.replace(before, after)
    return {tag: source}


MISTAKE_CELLS = {  # made from the current solution's cells, so that they follow it
    "mistake_loop_in_disguise": lambda: {"q1": '''def shipping_fees(amounts, weights):
    """Still one Python step per order, only shorter."""
    return np.array([0.0 if a >= 50.0 else 4.90 + 1.20 * max(w - 2.0, 0.0) for a, w in zip(amounts, weights)])'''},
    "mistake_strict_free_shipping": lambda: replaced("q1", "amounts >= 50.0", "amounts > 50.0"),
    "mistake_case_only_city": lambda: replaced("q2", "city.str.strip().str.capitalize()", "city.str.capitalize()"),
    "mistake_dates_guessed": lambda: replaced(
        "q2", 'year_first.fillna(day_first)', 'pd.to_datetime(text, format="mixed", dayfirst=True)'),
    "mistake_dropna_everything": lambda: replaced("q2", 'orders.dropna(subset=["amount"])', "orders.dropna()"),
    "mistake_dedupe_before_cleaning": lambda: replaced(
        "q2", '    orders = orders.drop_duplicates(subset="order_id")\n', "",
        "    orders = raw.assign(", "    raw = raw.drop_duplicates()\n    orders = raw.assign("),
    "mistake_join_fans_out": lambda: replaced(
        "q3", 'one_per_customer = customers.drop_duplicates(subset="customer_id")',
        "one_per_customer = customers", ', validate="many_to_one"', ""),
    "mistake_dedupe_on_all_columns": lambda: replaced(
        "q3", 'customers.drop_duplicates(subset="customer_id")', "customers.drop_duplicates()",
        ', validate="many_to_one"', ""),
    "mistake_damage_after_the_fix": lambda: replaced(
        "q3", 'careless_join = orders.merge(customers, on="customer_id")',
        'careless_join = orders.merge(customers.drop_duplicates("customer_id"), on="customer_id")'),
    "mistake_dropna_on_amount_only": lambda: replaced(
        "q3", "careless_drop = orders.dropna()", 'careless_drop = orders.dropna(subset=["amount"])'),
    "mistake_pivot_keeps_nan": lambda: replaced("q4", ', fill_value=0.0)', ')'),
    "mistake_summary_unsorted": lambda: replaced(
        "q4", 'return summary.sort_values("revenue", ascending=False, ignore_index=True)', "return summary"),
    "mistake_days_left_out": lambda: replaced(
        "q5", 'return orders.set_index("order_date")["amount"].resample("D").sum()',
        'return orders.groupby("order_date")["amount"].sum()'),
    "mistake_weeks_of_seven_days": lambda: replaced("q5", 'resample("W")', 'resample("7D")'),
    "mistake_sql_counts_duplicates": lambda: replaced(
        "q6", "JOIN segments AS s", "JOIN customers AS s"),
    "mistake_sql_appends": lambda: replaced("q6", 'if_exists="replace"', 'if_exists="append"'),
    "mistake_plot_without_labels": lambda: replaced(
        "q7", '    ax.set_xlabel("week (ending on Sunday)")\n    ax.set_ylabel("revenue (€)")\n', ""),
    "mistake_plot_on_one_figure": lambda: replaced(
        "q7", "fig, ax = plt.subplots(figsize=(7, 3.5))", "fig, ax = plt.gcf(), plt.gca()"),
}


Q2_VALUES = "q2: clean_orders' dates, cities, amounts, customers and coupons are those of the orders"
Q3_JOIN_ONCE = "q3: join_segments returns every order exactly once, where customers are listed two and three times"
Q3_JOIN_PUBLIC = "q3: join_segments keeps the four orders although customer 7 is listed twice"
Q3_DAMAGE_PUBLIC = ("q3: damage returns the four measures: here 3 extra rows (customer 7's orders) "
                    "and 2 orders without a coupon")
Q3_JOIN_DAMAGE = "q3: damage measures the rows and the revenue a join on duplicated customers adds"
Q3_DROPNA_DAMAGE = "q3: damage measures the orders and the revenue dropna() removes"
Q6_SEGMENTS = "q6: sql_segment_revenue adds up each segment's orders, each once although customers repeat"

# What each mistake must cost, test by test, and nothing else: all of it in the mistake's own exercise.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "mistake_loop_in_disguise": {
        "q1: shipping_fees works on whole arrays: no loop, comprehension, map or np.vectorize in it or its helpers": 1},
    "mistake_strict_free_shipping": {
        "q1: shipping_fees equals the loop's fees on other orders, as a float array of the same shape": 2,
        "q1: an order of exactly 50.00 ships free, one of 49.99 does not": 1},
    "mistake_case_only_city": {
        'q2: normalise_city turns " berlin " into "Berlin"': 1,
        'q2: normalise_city strips spaces, capitalises the first letter only, and says "Unknown" when missing': 2,
        Q2_VALUES: 3},
    "mistake_dates_guessed": {
        'q2: parse_dates reads "2024-03-05" year first and "05.03.2024" day first': 2, Q2_VALUES: 3},
    "mistake_dropna_everything": {
        "q2: clean_orders keeps every real order, also those without a coupon or a city": 2},
    "mistake_dedupe_before_cleaning": {
        "q2: clean_orders on orders.csv gives the six columns, each order_id once": 1,
        "q2: in clean_orders' table each order_id appears once, also when its copies were formatted differently": 2},
    "mistake_join_fans_out": {Q3_JOIN_PUBLIC: 1, Q3_JOIN_ONCE: 3},
    "mistake_dedupe_on_all_columns": {Q3_JOIN_PUBLIC: 1, Q3_JOIN_ONCE: 3},
    "mistake_damage_after_the_fix": {Q3_DAMAGE_PUBLIC: 1, Q3_JOIN_DAMAGE: 3},
    "mistake_dropna_on_amount_only": {Q3_DAMAGE_PUBLIC: 1, Q3_DROPNA_DAMAGE: 3},
    "mistake_pivot_keeps_nan": {
        "q4: monthly_pivot shows 0.0 for a city and month without orders, not a missing value": 2},
    "mistake_summary_unsorted": {
        "q4: city_summary has the columns city, orders, revenue, avg_order; Unknown first here": 1,
        "q4: city_summary lists the cities by revenue, largest first": 1},
    "mistake_days_left_out": {
        "q5: daily_revenue has a day for every date from 1 January to 4 February": 1,
        "q5: daily_revenue has every calendar day from the first order's to the last one's, closed days too": 2},
    "mistake_weeks_of_seven_days": {
        "q5: weekly_revenue adds up each Monday-to-Sunday week and labels it by its Sunday": 3},
    "mistake_sql_counts_duplicates": {Q6_SEGMENTS: 3},
    "mistake_sql_appends": {"q6: save_to_sqlite replaces the tables when the file has them already": 1},
    "mistake_plot_without_labels": {"q7: the weekly revenue plot labels both axes and has a title": 2},
    "mistake_plot_on_one_figure": {"q7: each call draws on a new figure, so plots do not pile up on one another": 1},
}

# The lab's real-world concern: these tests must weigh at least 15 % of the lab.
LESSON = {Q3_JOIN_ONCE, Q3_JOIN_PUBLIC, Q3_DAMAGE_PUBLIC, Q3_JOIN_DAMAGE, Q3_DROPNA_DAMAGE, Q6_SEGMENTS,
          "q2: clean_orders keeps every real order, also those without a coupon or a city",
          "q3: with every customer once and every order with a coupon, damage measures none"}

MISTAKES = list(EXPECTED_LOSSES)


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else MISTAKE_CELLS[name]()


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the data: what the hidden tests' seeds rely on holds for every seed ---------------------


def load(path: Path, name: str) -> ModuleType:
    """The module at ``path``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


shop_data = load(REPO / "solutions" / LAB / "tests" / "shop_data.py", "lab01_shop_data")


def solution_answers() -> dict:
    """The solution's answers to q2 and q3, defined here from its cells."""
    namespace = {"np": np, "pd": pd}
    for tag in ("q2", "q3"):
        exec(solution_cell(LAB, tag), namespace)
    return namespace


def test_shipped_files_are_made_by_make_data():
    """The CSV files in files/ and in the student's lab folder are what make_data.py writes: nothing edited by hand."""
    make_data = load(REPO / "solutions" / LAB / "make_data.py", "lab01_make_data")
    shop = make_data.make_shop(make_data.SEED)
    for folder in (REPO / "solutions" / LAB / "files", REPO / "labs" / LAB):
        assert (folder / "orders.csv").read_text() == shop.orders_csv
        assert (folder / "customers.csv").read_text() == shop.customers_csv


@pytest.mark.parametrize("seed", range(0, 200, 8))
def test_every_export_holds_each_problem_and_the_rules_undo_them(seed):
    """For any seed, an export has every problem the text names, in forms that catch the typical mistakes, and
    the text's rules (as the solution applies them) give back exactly the orders it was made from."""
    shop = shop_data.make_shop(seed, n_orders=500, n_customers=90)
    raw, customers, answers = shop.raw_orders(), shop.customers, solution_answers()
    assert raw.duplicated().any() and raw["order_id"].duplicated().sum() > raw.duplicated().sum()
    german = raw["order_date"].str.extract(r"^(\d\d)\.(\d\d)\.\d{4}$").dropna().astype(int)
    iso = raw["order_date"].str.extract(r"^\d{4}-(\d\d)-(\d\d)$").dropna().astype(int)[[1, 0]]
    for day_month in (german, iso):  # dates a guess per row reads the wrong way round
        assert ((day_month[0] <= 12) & (day_month[0] != day_month[1])).any()
    city = raw["city"].dropna()
    assert (city != city.str.strip()).any() and (city == city.str.upper()).any() and raw["city"].isna().any()
    amounts = answers["parse_amount"](raw["amount"])
    assert amounts.isna().any() and (amounts > 5000).any() and not amounts.between(2500.01, 5000).any()
    assert raw["amount"].str.contains(",").any() and raw["coupon"].isna().any() and raw["coupon"].notna().any()
    assert customers.duplicated().any() and customers["customer_id"].duplicated().sum() > customers.duplicated().sum()
    assert customers.groupby("customer_id")["segment"].nunique().max() == 1
    assert set(shop.orders["customer_id"]) <= set(customers["customer_id"])
    days = shop.orders["order_date"]
    assert pd.date_range(days.min(), days.max()).difference(pd.DatetimeIndex(days)).size >= 3
    clean = answers["clean_orders"](raw).sort_values("order_id", ignore_index=True)
    pd.testing.assert_frame_equal(clean, shop.orders, check_dtype=False)


# --- the batch -------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants are chained or step by step, regex or
    plain Python, loops where the text allows them, SQL with CTEs, subqueries or window functions, results
    rounded to cents."""

    kept = KEPT
    max_score = 73
    test_count = 42
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("mistake_sql_appends", "q6: save_to_sqlite replaces the tables")
    lesson = "joins that fan out and a dropna that deletes"
    lesson_tests = LESSON


if __name__ == "__main__":
    KEPT.write()
