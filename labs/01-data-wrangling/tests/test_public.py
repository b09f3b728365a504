"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks on a few hand-made rows. The grader also runs hidden tests that call
your functions on other exports of the same shape, and checks every rule of the text.

Each test brings its own rows (their names start with ``_t_``) rather than using the notebook's
``orders``: a slip in one exercise then shows in that exercise.
"""

import numpy as np
import pytest

# Four clean orders over four days (2 January had none), two customers, one of them listed twice.
ROWS = r'''
import pandas as _t_pd

_t_orders = _t_pd.DataFrame({
    "order_id": [1, 2, 3, 4],
    "order_date": _t_pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03", "2024-02-04"]),
    "customer_id": [7, 8, 7, 7],
    "city": ["Berlin", "Hamburg", "Berlin", "Unknown"],
    "amount": [10.0, 25.5, 4.5, 100.0],
    "coupon": ["VIP20", None, None, "SPRING5"],
})
_t_customers = _t_pd.DataFrame({"customer_id": [7, 8, 7], "name": ["Ann", "Bo", "ANN"],
                                "segment": ["retail", "business", "retail"]})
'''


@pytest.fixture
def rows(nb):
    """The notebook, with the tests' own rows in it."""
    nb.run(ROWS)
    return nb


def test_q1_small_example(nb):
    """q1: shipping_fees on three orders: free from 50.00, else 4.90 plus 1.20 per kg above 2 kg"""
    got = nb.call("shipping_fees", np.array([20.0, 60.0, 49.0]), np.array([3.0, 9.0, 1.0]))
    assert type(got) is np.ndarray and np.allclose(got, [6.10, 0.0, 4.90])


def test_q2_parse_amount(nb):
    """q2: parse_amount reads "€1,234.50" as 1234.5"""
    assert nb.ref("parse_amount(pd.Series(['€1,234.50', '12.00'])).tolist()") == [1234.5, 12.0]


def test_q2_normalise_city(nb):
    """q2: normalise_city turns " berlin " into "Berlin\""""
    assert nb.ref("normalise_city(pd.Series([' berlin ', 'BERLIN'])).tolist()") == ["Berlin", "Berlin"]


def test_q2_clean_orders_file(nb):
    """q2: clean_orders on orders.csv gives the six columns, each order_id once"""
    columns, unique = nb.ref("(lambda c: (sorted(c.columns), bool(c['order_id'].is_unique)))"
                             "(clean_orders(pd.read_csv('orders.csv')))")
    assert columns == sorted(["order_id", "order_date", "customer_id", "city", "amount", "coupon"])
    assert unique is True


def test_q3_join_keeps_orders(rows):
    """q3: join_segments keeps the four orders although customer 7 is listed twice"""
    assert rows.ref("sorted(join_segments(_t_orders, _t_customers)['order_id'].tolist())") == [1, 2, 3, 4]


def test_q3_damage_keys(rows):
    """q3: damage returns the four measures: here 3 extra rows (customer 7's orders) and 2 orders without a coupon"""
    got = rows.ref("damage(_t_orders, _t_customers)")
    assert type(got) is dict and got["join_extra_rows"] == 3 and got["dropna_lost_rows"] == 2


def test_q4_city_summary(rows):
    """q4: city_summary has the columns city, orders, revenue, avg_order; Unknown first here"""
    got = rows.ref("(lambda s: s if 'city' in s.columns else s.reset_index())(city_summary(_t_orders))")
    assert sorted(got.columns) == ["avg_order", "city", "orders", "revenue"]
    assert got["city"].tolist()[0] == "Unknown"


def test_q4_monthly_pivot(rows):
    """q4: monthly_pivot has the months "2024-01" and "2024-02" as columns"""
    assert rows.ref("[str(c) for c in monthly_pivot(_t_orders).columns]") == ["2024-01", "2024-02"]


def test_q5_daily_revenue(rows):
    """q5: daily_revenue has a day for every date from 1 January to 4 February"""
    assert rows.ref("len(daily_revenue(_t_orders))") == 35


def test_q6_sql_agrees(rows):
    """q6: sql_city_summary counts the orders of each city, largest revenue first, as city_summary does"""
    rows.run("import sqlite3 as _t_sqlite3, tempfile as _t_tempfile\n"
             "_t_path = _t_tempfile.mkdtemp() + '/shop.sqlite'\n"
             "save_to_sqlite(_t_orders, _t_customers, _t_path)\n"
             "_t_con = _t_sqlite3.connect(_t_path)")
    try:
        sql = rows.ref("sql_city_summary(_t_con)[['city', 'orders']].values.tolist()")
    finally:
        rows.run("_t_con.close()")
    assert sql == [["Unknown", 1], ["Hamburg", 1], ["Berlin", 2]]


def test_q7_returns_a_figure(rows):
    """q7: plot_weekly_revenue returns a matplotlib Figure"""
    kind = rows.ref("type(plot_weekly_revenue(weekly_revenue(_t_orders))).__name__")
    rows.run("plt.close('all')")
    assert kind == "Figure"
