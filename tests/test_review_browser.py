"""A review clicked through in a real browser: Debian's chromium, driven by its chromedriver
through selenium (the driver's path is given, so Selenium Manager never downloads anything).

``grade`` grades a small batch, ``grade review`` serves it, and the browser opens the printed
URL, goes to an exercise's queue, moves with the keyboard, types a comment, saves an override,
then reuses the comment from the bank by its number key; the test then reads what is stored
(history.sqlite), the regenerated feedback page and gradebook.csv.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, LAB, copy_course, run_grade, wait_for
from selenium import webdriver  # the dev extra's
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

TEST = "q2: mean of an empty list is None"  # bob's answer fails it
COMMENT = "Right idea; an empty list has no mean, return None first."


def browser(tmp_path: Path):
    """Headless chromium under its own driver, offline, with a throwaway profile."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert binary and driver_path, "chromium and chromium-driver are missing: run 'make system'"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))


@pytest.fixture
def review(tmp_path):
    """A graded batch (alice, bob) served by ``grade review``: (grades folder, the printed URL)."""
    course = copy_course(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice", "bob"):
        shutil.copy(EXAMPLE / "submissions" / f"{name}.ipynb", subs)
    assert run_grade(str(subs), "--out", "grades", cwd=course).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "grader", "review", "--grades", "grades", "--reviewer", "prof"],
                            cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert found, line + proc.stderr.read()
        yield course / "grades", found.group(0)
    finally:
        proc.terminate()
        proc.wait(10)


def press(driver, key: str) -> None:
    ActionChains(driver).send_keys(key).perform()


def test_a_review_clicked_through_in_chromium(review, tmp_path, monkeypatch):
    monkeypatch.setenv("SE_OFFLINE", "true")  # and the driver's path is given: Selenium Manager fetches nothing
    grades, url = review
    driver = browser(tmp_path)
    try:
        driver.get(url)
        assert "token" not in driver.current_url  # moved into the cookie
        assert driver.find_element(By.CSS_SELECTOR, "svg.chart")
        assert "likely a test bug" not in driver.page_source
        driver.find_element(By.LINK_TEXT, "q2").click()
        assert driver.find_element(By.CLASS_NAME, "student").text == "alice"
        press(driver, "j")
        wait_for(lambda: driver.find_element(By.CLASS_NAME, "student").text == "bob", 10)
        assert "def mean" in driver.find_element(By.CSS_SELECTOR, "pre.source").text

        form = next(f for f in driver.find_elements(By.CSS_SELECTOR, "form.override")
                    if f.find_element(By.NAME, "test").get_attribute("value") == TEST)
        points = form.find_element(By.NAME, "points")
        points.clear()
        points.send_keys("1.5")
        form.find_element(By.NAME, "comment").send_keys(COMMENT)
        form.find_element(By.NAME, "bank").click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: "1.5 points from prof" in driver.page_source, 10)
        assert driver.find_element(By.CSS_SELECTOR, ".bank button").text.startswith(f"1. {COMMENT}")

        press(driver, "k")  # alice, then the bank's first comment and s to save it on her first test
        wait_for(lambda: driver.find_element(By.CLASS_NAME, "student").text == "alice", 10)
        driver.find_element(By.CSS_SELECTOR, "form.override input[name=points]").click()
        press(driver, Keys.ESCAPE)
        press(driver, "1")
        press(driver, "s")
        wait_for(lambda: "1 points from prof" in driver.page_source, 10)

        driver.find_element(By.LINK_TEXT, "next (j)").click()
        driver.find_element(By.LINK_TEXT, "feedback page").click()
        assert "1.5 points from prof" in driver.page_source and "Score: 18.5 / 22" in driver.page_source
    finally:
        driver.quit()

    with sqlite3.connect(history_file := grades / "history.sqlite") as db:
        stored = db.execute("SELECT student, lab, test, points, comment, who FROM overrides ORDER BY id").fetchall()
        bank = db.execute("SELECT text FROM comments").fetchall()
    alice_first = json.loads((grades / "alice" / f"{LAB}.json").read_text())["tests"][1]["name"]
    assert stored == [("bob", LAB, TEST, 1.5, COMMENT, "prof"), ("alice", LAB, alice_first, 1.0, COMMENT, "prof")]
    assert bank == [(COMMENT,)] and history_file.is_file()
    feedback = (grades / "bob" / f"{LAB}.html").read_text()
    assert COMMENT.replace("'", "&#x27;") in feedback and "Score: 18.5 / 22" in feedback
    with open(grades / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert (rows["bob"]["score"], rows["bob"]["automatic_score"], rows["bob"]["overridden"]) == ("18.5", "17", "1")
    assert (rows["alice"]["score"], rows["alice"]["overridden"]) == ("22", "1")
