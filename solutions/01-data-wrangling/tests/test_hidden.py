"""Hidden tests for 01-data-wrangling: they call the student's functions on shop exports the grader
makes from its own seeds (``shop_data.py``), and compute every expected answer here, in the grader.

Each exercise is tested on its own answer only: q3 to q7 get the grader's clean orders, never the
student's ``clean_orders`` output, so a slip in the cleaning costs q2's points and no others. Each
test checks one rule of the text, so that a typical mistake fails the tests of its rule: the clean
table's values are compared on the orders the student kept, and which orders were kept is a test
of its own.

The lab's real-world concern, joins that fan out and a ``dropna`` that deletes, carries its weight:
the join must keep every order once on exports where customers appear two and three times, and the
damage of both careless steps must be measured exactly.

Every answer here has one right value, so no threshold is needed: money is compared to the cent
(sums of floats differ in their last bits between pandas and SQL, and an answer rounded to cents is
still right).
"""

import ast
import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.inputtransformer2 import TransformerManager

HERE = Path(__file__).resolve().parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()
DATES = {"orders": ["order_date"]}  # the frames sent whose columns are read as dates
COLUMNS = ["order_id", "order_date", "customer_id", "city", "amount", "coupon"]
CENT = 0.01


def _shop_data():
    """The generator of the lab's data, loaded from beside this file (pytest imports tests by path)."""
    spec = importlib.util.spec_from_file_location("_lab01_shop_data", HERE / "shop_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


shop_data = _shop_data()
SHOPS = {seed: shop_data.make_shop(seed, n_orders=500, n_customers=90) for seed in (7, 31, 58)}


def integer(value) -> bool:
    """An int as plain data: Python's or NumPy's, never bool."""
    return type(value) is int or isinstance(value, np.integer)


def real(value) -> bool:
    """A float as plain data: Python's or NumPy's."""
    return type(value) is float or isinstance(value, np.floating)


@pytest.fixture
def lab(nb):
    """The kernel, with the grader's own code (``kernel_side.py``) loaded as ``_g_lab``."""
    if not nb.ref("'_g_lab' in globals()"):
        nb.run(f"import types as _g_types\n_g_lab = _g_types.ModuleType('_g_lab')\n"
               f"exec({KERNEL_SIDE!r}, _g_lab.__dict__)\ndel _g_types")
    return nb


@contextmanager
def sent(lab, **frames):
    """For the block, ``_g[name]`` in the kernel is each frame, sent as CSV text and read there with
    ``pd.read_csv`` as the notebook reads its files (the frames named in DATES with their dates parsed)."""
    lab.assign("_g_csv", {name: frame.to_csv(index=False) for name, frame in frames.items()})
    lab.run(f"_g = {{k: _g_lab.frame(v, {DATES!r}.get(k, ())) for k, v in _g_csv.items()}}\ndel _g_csv")
    try:
        yield
    finally:
        lab.run("del _g")


def raw_sent(lab, shop):
    """Like ``sent``, for a shop's messy orders as ``_g['raw']``: its CSV text read as it is."""
    lab.assign("_g_csv", shop.orders_csv)
    lab.run("_g = {'raw': _g_lab.frame(_g_csv)}\ndel _g_csv")


def frame_facts(lab, expr):
    """The DataFrame ``expr`` evaluates to in the kernel, rebuilt here from its plain facts."""
    kind, columns, index_name, index, values = lab.ref(f"_g_lab.frame_facts({expr})")
    assert kind == "DataFrame", f"a DataFrame was expected, not a {kind}"
    result = pd.DataFrame(values, columns=columns)
    result.index, result.index.name = index, index_name
    return result


# --- q1: NumPy -------------------------------------------------------------------------------

def fees_by_loop(amounts, weights):
    """The notebook's loop, here in the grader."""
    return np.array([0.0 if a >= 50.0 else 4.90 + 1.20 * max(w - 2.0, 0.0)
                     for a, w in zip(amounts, weights, strict=True)])


@pytest.mark.points(2)
def test_q1_matches_the_loop(nb):
    """q1: shipping_fees equals the loop's fees on other orders, as a float array of the same shape"""
    rng = np.random.default_rng(41)
    amounts = np.round(rng.lognormal(4.0, 0.9, 2000), 2)
    weights = np.round(rng.uniform(0.1, 12.0, 2000), 1)
    amounts[:20], weights[20:40] = 50.0, 2.0
    got = nb.call("shipping_fees", amounts, weights)
    assert type(got) is np.ndarray and got.dtype.kind == "f" and got.shape == amounts.shape
    assert np.allclose(got, fees_by_loop(amounts, weights), rtol=0, atol=1e-9)


@pytest.mark.points(1)
def test_q1_free_from_50(nb):
    """q1: an order of exactly 50.00 ships free, one of 49.99 does not"""
    got = nb.call("shipping_fees", np.array([50.0, 49.99, 50.01, 7.0]), np.array([1.0, 1.0, 9.0, 2.5]))
    assert type(got) is np.ndarray and np.allclose(got, [0.0, 4.90, 0.0, 5.50], rtol=0, atol=1e-9)


@pytest.mark.points(1)
def test_q1_weight_above_2kg(nb):
    """q1: below 50.00, 1.20 per kilogram above the first 2 kg is added to 4.90"""
    got = nb.call("shipping_fees", np.full(4, 10.0), np.array([0.5, 2.0, 3.5, 12.0]))
    assert type(got) is np.ndarray and np.allclose(got, [4.90, 4.90, 6.70, 16.90], rtol=0, atol=1e-9)


MAX_CELL = 100_000  # characters of the q1 cell the loop check reads
LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
LOOPING_CALLS = {"vectorize", "frompyfunc", "apply_along_axis", "fromiter", "map"}  # a loop in disguise


def called_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def function_nodes(tree: ast.AST, name: str) -> list[ast.AST]:
    """The nodes of ``name`` as the cell defines it (a def, or a name assigned), and of the cell's own
    functions it calls, followed call by call: a helper's loop is the function's loop."""
    defs: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            defs.update({t.id: node.value for t in node.targets if isinstance(t, ast.Name)})
    todo, seen, nodes = [name], set(), []
    while todo:
        current = todo.pop()
        if current in seen or current not in defs:
            continue
        seen.add(current)
        body = list(ast.walk(defs[current]))
        nodes += body
        todo += [called_name(n) for n in body if isinstance(n, ast.Call)]
    return nodes


def cell_tree(source: str) -> ast.AST:
    """The syntax tree of a cell as handed in, read here in the grader (never run), its IPython syntax
    (magics, shell escapes) turned into Python by IPython itself. A cell too long or too deep to read
    fails the test: it is the student's text."""
    if len(source) > MAX_CELL:
        pytest.fail(f"the cell has more than {MAX_CELL:,} characters")
    if source.lstrip().startswith("%%"):  # a cell magic such as %%time: its body is the cell's Python
        source = source.lstrip().partition("\n")[2]
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        pytest.fail(f"the cell cannot be read as Python: {type(exc).__name__}")


@pytest.mark.points(1)
def test_q1_no_python_loop(nb):
    """q1: shipping_fees works on whole arrays: no loop, comprehension, map or np.vectorize in it or its helpers"""
    got = nb.call("shipping_fees", np.array([20.0, 60.0]), np.array([3.0, 1.0]))  # a stub has no loop either
    assert type(got) is np.ndarray and np.allclose(got, [6.10, 0.0], rtol=0, atol=1e-9)
    nodes = function_nodes(cell_tree(nb.cell("q1").source), "shipping_fees")
    assert nodes, "shipping_fees is not defined in its cell"
    assert not any(isinstance(n, LOOPS) for n in nodes)
    assert not any(isinstance(n, ast.Call) and called_name(n) in LOOPING_CALLS for n in nodes)


# --- q2: cleaning ----------------------------------------------------------------------------

@pytest.mark.points(2)
def test_q2_parse_amount(nb):
    """q2: parse_amount reads every format of the export as a float, missing as NaN"""
    texts = pd.Series(["1234.50", "€1,234.50", "12,345.67 €", "€ 89.90", None, "0.99", "€3,000.00", "7.5"])
    got = nb.call("parse_amount", texts)
    assert type(got) is pd.Series and len(got) == len(texts)
    values = np.asarray(got, dtype=float)
    expected = [1234.5, 1234.5, 12345.67, 89.9, np.nan, 0.99, 3000.0, 7.5]
    assert np.allclose(values, expected, rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.points(2)
def test_q2_parse_dates(lab):
    """q2: parse_dates reads "2024-03-05" year first and "05.03.2024" day first"""
    texts = ["2024-03-05", "05.03.2024", "2024-12-01", "01.12.2024", "13.01.2024", "2024-01-13", "07.02.2023"]
    lab.assign("_g", texts)
    try:
        kind, dtype, got = lab.ref("(lambda r: (type(r).__name__, r.dtype.kind, r.dt.strftime('%Y-%m-%d').tolist()))"
                                   "(parse_dates(_g_lab.pd.Series(_g)))")
    finally:
        lab.run("del _g")
    assert (kind, dtype) == ("Series", "M")
    assert got == ["2024-03-05", "2024-03-05", "2024-12-01", "2024-12-01", "2024-01-13", "2024-01-13",
                   "2023-02-07"]


@pytest.mark.points(2)
def test_q2_normalise_city(nb):
    """q2: normalise_city strips spaces, capitalises the first letter only, and says "Unknown" when missing"""
    texts = pd.Series([" berlin ", "BERLIN", "Berlin", "hamburg  ", "  MUNICH", None, "leipzig", "Cologne "])
    got = nb.call("normalise_city", texts)
    assert type(got) is pd.Series
    assert got.tolist() == ["Berlin", "Berlin", "Berlin", "Hamburg", "Munich", "Unknown", "Leipzig", "Cologne"]


def coupons(column):
    """A coupon column as a list, None where it is missing (NaN, None or NA alike)."""
    return [None if pd.isna(c) else c for c in column]


def cleaned(lab, seed):
    """The student's clean_orders on the grader's export ``seed``: the result and the truth."""
    raw_sent(lab, SHOPS[seed])
    try:
        return frame_facts(lab, "clean_orders(_g['raw'])"), SHOPS[seed].orders
    finally:
        lab.run("del _g")


@pytest.mark.points(2)
def test_q2_clean_keeps_every_real_order(lab):
    """q2: clean_orders keeps every real order, also those without a coupon or a city"""
    for seed in (7, 31):
        got, truth = cleaned(lab, seed)
        assert set(truth["order_id"]) <= set(got["order_id"])


@pytest.mark.points(2)
def test_q2_clean_drops_invalid_orders(lab):
    """q2: clean_orders drops orders with no amount and amounts above 5,000"""
    for seed in (7, 31):
        got, truth = cleaned(lab, seed)
        assert set(got["order_id"]) <= set(truth["order_id"])


@pytest.mark.points(2)
def test_q2_clean_each_order_once(lab):
    """q2: in clean_orders' table each order_id appears once, also when its copies were formatted differently"""
    for seed in (7, 31):
        got, _ = cleaned(lab, seed)
        assert got["order_id"].is_unique


@pytest.mark.points(3)
def test_q2_clean_values(lab):
    """q2: clean_orders' dates, cities, amounts, customers and coupons are those of the orders"""
    for seed in (7, 58):
        got, truth = cleaned(lab, seed)
        got = got.drop_duplicates("order_id").set_index("order_id")
        truth = truth.set_index("order_id")
        common = truth.index.intersection(got.index)
        assert len(common) >= len(truth) // 10  # not vacuous, whichever orders were kept
        got, truth = got.loc[common], truth.loc[common]
        assert (pd.to_datetime(got["order_date"]) == truth["order_date"]).all()
        assert got["city"].tolist() == truth["city"].tolist()
        assert np.allclose(got["amount"].astype(float), truth["amount"], rtol=0, atol=1e-9)
        assert got["customer_id"].tolist() == truth["customer_id"].tolist()
        assert coupons(got["coupon"]) == coupons(truth["coupon"])


@pytest.mark.points(1)
def test_q2_clean_columns_and_types(lab):
    """q2: clean_orders returns exactly the six columns: integer ids, datetime dates, float amounts"""
    raw_sent(lab, SHOPS[31])
    try:
        kinds = lab.ref("(lambda r: [(str(c), r[c].dtype.kind) for c in r.columns])(clean_orders(_g['raw']))")
    finally:
        lab.run("del _g")
    assert sorted(name for name, _ in kinds) == sorted(COLUMNS)
    kinds = dict(kinds)
    assert kinds["order_id"] in "iu" and kinds["customer_id"] in "iu"
    assert kinds["order_date"] == "M" and kinds["amount"] == "f"


# --- q3: joins and dropna --------------------------------------------------------------------

def exported_customers(seed, thrice=3):
    """The shop's customers as exported, plus a third copy of the ``thrice`` customers with most orders."""
    shop = SHOPS[seed]
    busiest = shop.orders["customer_id"].value_counts().index[:thrice]
    extra = shop.customers.drop_duplicates("customer_id").set_index("customer_id").loc[busiest].reset_index()
    return pd.concat([shop.customers, extra], ignore_index=True)


def expected_damage(orders, customers):
    """The four measures of q3, by the text's definitions."""
    joined, dropped = orders.merge(customers, on="customer_id"), orders.dropna()
    return {"join_extra_rows": len(joined) - len(orders),
            "join_extra_revenue": joined["amount"].sum() - orders["amount"].sum(),
            "dropna_lost_rows": len(orders) - len(dropped),
            "dropna_lost_revenue": orders["amount"].sum() - dropped["amount"].sum()}


def student_damage(lab, orders, customers):
    with sent(lab, orders=orders, customers=customers):
        got = lab.ref("damage(_g['orders'], _g['customers'])")
    assert type(got) is dict and set(got) == {"join_extra_rows", "join_extra_revenue", "dropna_lost_rows",
                                              "dropna_lost_revenue"}
    return got


@pytest.mark.points(3)
def test_q3_join_keeps_every_order_once(lab):
    """q3: join_segments returns every order exactly once, where customers are listed two and three times"""
    for seed in (7, 31):
        orders = SHOPS[seed].orders
        with sent(lab, orders=orders, customers=exported_customers(seed)):
            got = lab.ref("join_segments(_g['orders'], _g['customers'])['order_id'].to_numpy()")
        assert type(got) is np.ndarray and sorted(got.tolist()) == sorted(orders["order_id"].tolist())


@pytest.mark.points(2)
def test_q3_join_adds_the_segment(lab):
    """q3: join_segments gives each order its customer's segment"""
    orders = SHOPS[58].orders
    customers = exported_customers(58)
    segment = customers.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    with sent(lab, orders=orders, customers=customers):
        got = frame_facts(lab, "join_segments(_g['orders'], _g['customers'])[['order_id', 'segment']]")
    got = got.drop_duplicates("order_id").set_index("order_id")["segment"]
    assert got.to_dict() == orders.set_index("order_id")["customer_id"].map(segment).to_dict()


def assert_damage(lab, orders, customers, measure: str) -> None:
    """The student's ``<measure>_rows`` (an int) and ``<measure>_revenue`` (a float, to the cent) are the
    text's, for these tables."""
    got, expected = student_damage(lab, orders, customers), expected_damage(orders, customers)
    rows, revenue = f"{measure}_rows", f"{measure}_revenue"
    assert integer(got[rows]) and got[rows] == expected[rows]
    assert real(got[revenue]) and abs(got[revenue] - expected[revenue]) < CENT


@pytest.mark.points(3)
def test_q3_damage_of_the_careless_join(lab):
    """q3: damage measures the rows and the revenue a join on duplicated customers adds"""
    for seed in (7, 31):
        assert_damage(lab, SHOPS[seed].orders, exported_customers(seed), "join_extra")


@pytest.mark.points(3)
def test_q3_damage_of_dropna(lab):
    """q3: damage measures the orders and the revenue dropna() removes"""
    for seed in (7, 58):
        assert_damage(lab, SHOPS[seed].orders, SHOPS[seed].customers, "dropna_lost")


@pytest.mark.points(1)
def test_q3_no_damage_on_clean_inputs(lab):
    """q3: with every customer once and every order with a coupon, damage measures none"""
    orders = SHOPS[31].orders.assign(coupon="SPRING5")
    customers = SHOPS[31].customers.drop_duplicates("customer_id")
    got = student_damage(lab, orders, customers)
    assert got["join_extra_rows"] == 0 and got["dropna_lost_rows"] == 0
    assert abs(got["join_extra_revenue"]) < CENT and abs(got["dropna_lost_revenue"]) < CENT


# --- q4: group-by and pivot ------------------------------------------------------------------

def expected_summary(orders):
    return (orders.groupby("city").agg(orders=("order_id", "count"), revenue=("amount", "sum"),
                                       avg_order=("amount", "mean"))
            .sort_values("revenue", ascending=False))


def student_summary(lab, orders, call="city_summary(_g['orders'])"):
    """The summary ``call`` returns, indexed by city (a column or the index, as the student chose)."""
    with sent(lab, orders=orders):
        got = frame_facts(lab, call)
    if "city" in got.columns:
        got = got.set_index("city")
    assert got.index.name == "city" and set(got.columns) == {"orders", "revenue", "avg_order"}
    return got


def same_summary(got, expected) -> bool:
    got = got.loc[sorted(got.index)]
    expected = expected.loc[sorted(expected.index)]
    return (got.index.tolist() == expected.index.tolist()
            and got["orders"].astype(int).tolist() == expected["orders"].tolist()
            and np.allclose(got["revenue"].astype(float), expected["revenue"], rtol=0, atol=CENT)
            and np.allclose(got["avg_order"].astype(float), expected["avg_order"], rtol=0, atol=CENT))


@pytest.mark.points(3)
def test_q4_city_summary_values(lab):
    """q4: city_summary counts the orders, adds up and averages the amounts of each city"""
    for seed in (7, 58):
        orders = SHOPS[seed].orders
        assert same_summary(student_summary(lab, orders), expected_summary(orders))


@pytest.mark.points(1)
def test_q4_city_summary_sorted(lab):
    """q4: city_summary lists the cities by revenue, largest first"""
    orders = SHOPS[31].orders
    got = student_summary(lab, orders)
    assert got.index.tolist() == expected_summary(orders).index.tolist()


def expected_pivot(orders):
    month = orders["order_date"].dt.strftime("%Y-%m")
    return orders.assign(month=month).pivot_table(index="city", columns="month", values="amount",
                                                  aggfunc="sum", fill_value=0.0)


def student_pivot(lab, orders):
    with sent(lab, orders=orders):
        return frame_facts(lab, "monthly_pivot(_g['orders'])")


def same_pivot(got, expected) -> bool:
    return (got.index.tolist() == expected.index.tolist() and got.columns.tolist() == expected.columns.tolist()
            and np.allclose(got.to_numpy(dtype=float), expected.to_numpy(), rtol=0, atol=CENT))


@pytest.mark.points(2)
def test_q4_pivot_revenue_per_city_and_month(lab):
    """q4: monthly_pivot has a row per city (sorted), a column per month "YYYY-MM" in order, the revenue in each"""
    orders = SHOPS[7].orders
    expected = expected_pivot(orders)
    assert (expected.to_numpy() > 0).all()  # every city sold every month: zeros are the next test's
    assert same_pivot(student_pivot(lab, orders), expected)


@pytest.mark.points(2)
def test_q4_pivot_zero_without_orders(lab):
    """q4: monthly_pivot shows 0.0 for a city and month without orders, not a missing value"""
    orders = SHOPS[31].orders
    gone = (orders["city"] == "Leipzig") & (orders["order_date"].dt.month == 2)
    gone |= (orders["city"] == "Berlin") & (orders["order_date"].dt.month == 3)
    orders = orders[~gone]
    assert same_pivot(student_pivot(lab, orders), expected_pivot(orders))


# --- q5: time series -------------------------------------------------------------------------

def student_series(lab, call, orders):
    with sent(lab, orders=orders):
        kind, index, values = lab.ref(f"_g_lab.dated({call}(_g['orders']))")
    assert kind == "Series"
    return pd.Series(values, index=index)


def expected_daily(orders):
    daily = orders.set_index("order_date")["amount"].resample("D").sum()
    return pd.Series(daily.to_numpy(), index=daily.index.strftime("%Y-%m-%d"))


@pytest.mark.points(2)
def test_q5_daily_has_every_day(lab):
    """q5: daily_revenue has every calendar day from the first order's to the last one's, closed days too"""
    for seed in (7, 31):
        orders = SHOPS[seed].orders
        expected = expected_daily(orders)
        assert (expected == 0).sum() >= 3  # the shop was closed on some days
        assert student_series(lab, "daily_revenue", orders).index.tolist() == expected.index.tolist()


@pytest.mark.points(2)
def test_q5_daily_values(lab):
    """q5: daily_revenue holds each day's revenue, 0.0 on a day without orders"""
    orders = SHOPS[58].orders
    got, expected = student_series(lab, "daily_revenue", orders), expected_daily(orders)
    assert set(got.index) <= set(expected.index) and len(got) > 0
    assert np.allclose(got.to_numpy(), expected[got.index].to_numpy(), rtol=0, atol=CENT)


@pytest.mark.points(3)
def test_q5_weekly_revenue(lab):
    """q5: weekly_revenue adds up each Monday-to-Sunday week and labels it by its Sunday"""
    for seed in (7, 31):
        orders = SHOPS[seed].orders
        weekly = orders.set_index("order_date")["amount"].resample("W").sum()
        got = student_series(lab, "weekly_revenue", orders)
        assert got.index.tolist() == weekly.index.strftime("%Y-%m-%d").tolist()
        assert np.allclose(got.to_numpy(), weekly.to_numpy(), rtol=0, atol=CENT)


# --- q6: SQL ---------------------------------------------------------------------------------

@contextmanager
def grader_database(lab, orders, customers):
    """For the block, ``_g['con']`` is a connection to an SQLite file the grader wrote (not the
    student's save_to_sqlite) holding ``orders`` and ``customers``."""
    with sent(lab, orders=orders, customers=customers):
        lab.run("_g['path'] = _g_lab.database(_g['orders'], _g['customers'])\n"
                "_g['con'] = _g_lab.sqlite3.connect(_g['path'])")
        try:
            yield
        finally:
            lab.run("_g['con'].close()\n_g_lab.os.remove(_g['path'])")


@contextmanager
def student_database(lab):
    """For the block, ``_g['path']`` names a new SQLite file for save_to_sqlite to write, removed after."""
    lab.run("_g['path'] = _g_lab.temporary_database()")
    try:
        yield
    finally:
        lab.run("_g_lab.os.path.exists(_g['path']) and _g_lab.os.remove(_g['path'])")


@pytest.mark.points(2)
def test_q6_save_writes_both_tables(lab):
    """q6: save_to_sqlite writes the orders and the customers (duplicates and all) as tables of those names"""
    orders, customers = SHOPS[7].orders, SHOPS[7].customers
    with sent(lab, orders=orders, customers=customers), student_database(lab):
        lab.run("save_to_sqlite(_g['orders'], _g['customers'], _g['path'])")
        got = lab.ref("_g_lab.tables(_g['path'])")
    assert type(got) is dict and {"orders", "customers"} <= set(got)
    assert sorted(got["orders"]["order_id"]) == sorted(orders["order_id"])
    assert abs(sum(got["orders"]["amount"]) - orders["amount"].sum()) < CENT
    assert sorted(got["customers"]["customer_id"]) == sorted(customers["customer_id"])


@pytest.mark.points(1)
def test_q6_save_replaces_the_tables(lab):
    """q6: save_to_sqlite replaces the tables when the file has them already"""
    first, second = SHOPS[7], SHOPS[31]
    with sent(lab, orders=first.orders, customers=first.customers, orders_2=second.orders,
              customers_2=second.customers), student_database(lab):
        lab.run("save_to_sqlite(_g['orders'], _g['customers'], _g['path'])\n"
                "save_to_sqlite(_g['orders_2'], _g['customers_2'], _g['path'])")
        got = lab.ref("_g_lab.tables(_g['path'])")
    assert sorted(got["orders"]["order_id"]) == sorted(second.orders["order_id"])
    assert len(got["customers"]["customer_id"]) == len(second.customers)


@pytest.mark.points(3)
def test_q6_sql_city_summary(lab):
    """q6: sql_city_summary gives city_summary's table (same cities, counts, sums, means, order) by SQL"""
    for seed in (7, 58):
        orders = SHOPS[seed].orders
        with grader_database(lab, orders, SHOPS[seed].customers):
            got = frame_facts(lab, "sql_city_summary(_g['con'])")
        assert sorted(got.columns) == sorted(["city", "orders", "revenue", "avg_order"])
        got = got.set_index("city")
        expected = expected_summary(orders)
        assert got.index.tolist() == expected.index.tolist() and same_summary(got, expected)


@pytest.mark.points(3)
def test_q6_sql_segment_revenue(lab):
    """q6: sql_segment_revenue adds up each segment's orders, each once although customers repeat"""
    for seed in (31, 58):
        orders, customers = SHOPS[seed].orders, exported_customers(seed)
        segment = customers.drop_duplicates("customer_id").set_index("customer_id")["segment"]
        expected = orders.groupby(orders["customer_id"].map(segment))["amount"].sum().sort_index()
        with grader_database(lab, orders, customers):
            got = frame_facts(lab, "sql_segment_revenue(_g['con'])")
        assert sorted(got.columns) == ["revenue", "segment"]
        assert got["segment"].tolist() == expected.index.tolist()
        assert np.allclose(got["revenue"].astype(float), expected.to_numpy(), rtol=0, atol=CENT)


# --- q7: the plot ----------------------------------------------------------------------------

WEEKS = ["2024-01-07", "2024-01-14", "2024-01-21", "2024-01-28", "2024-02-04", "2024-02-11"]
REVENUE = [812.5, 640.25, 1020.0, 0.0, 955.75, 700.1]


def plotted(lab, weeks=WEEKS, revenue=REVENUE):
    """The facts of the figure plot_weekly_revenue draws for the grader's weekly series."""
    lab.assign("_g", {"weeks": weeks, "revenue": revenue})
    try:
        return lab.ref("_g_lab.figure_facts(plot_weekly_revenue(_g_lab.series(_g['weeks'], _g['revenue'])))")
    finally:
        lab.run("del _g\n_g_lab.close_figures()")


def lines_of(facts):
    return [line for ax in facts["axes"] for line in ax["lines"]]


@pytest.mark.points(2)
def test_q7_a_line_of_the_weekly_revenue(lab):
    """q7: plot_weekly_revenue returns a Figure with a line through the weekly revenue, week by week"""
    for weeks, revenue in ((WEEKS, REVENUE), (WEEKS[:4], [5.0, 3.5, 9.25, 1.0])):
        facts = plotted(lab, weeks, revenue)
        assert facts["type"] == "matplotlib.Figure"
        assert any(len(line) == len(revenue) and np.allclose(line, revenue) for line in lines_of(facts))


@pytest.mark.points(2)
def test_q7_labels_and_title(lab):
    """q7: the weekly revenue plot labels both axes and has a title"""
    facts = plotted(lab)
    drawn = [ax for ax in facts["axes"] if any(np.allclose(line, REVENUE) for line in ax["lines"]
                                               if len(line) == len(REVENUE))]
    assert len(drawn) == 1
    ax = drawn[0]
    assert ax["xlabel"].strip() and ax["ylabel"].strip()
    assert ax["title"].strip() or facts["suptitle"].strip()


@pytest.mark.points(1)
def test_q7_new_figure_each_time(lab):
    """q7: each call draws on a new figure, so plots do not pile up on one another"""
    lab.assign("_g", {"weeks": WEEKS, "revenue": REVENUE})
    try:
        lab.run("_g['series'] = _g_lab.series(_g['weeks'], _g['revenue'])\n"
                "_g['first'] = plot_weekly_revenue(_g['series'])\n_g['second'] = plot_weekly_revenue(_g['series'])")
        different = lab.ref("_g['first'] is not _g['second']")
        first, second = (lab.ref(f"_g_lab.figure_facts(_g[{name!r}])") for name in ("first", "second"))
    finally:
        lab.run("del _g\n_g_lab.close_figures()")
    assert different is True and lines_of(first) == lines_of(second)
