"""The web page's pure parts: trend ring buffers (bounded, numbers only) and the translation
tables (every key the page uses exists in both languages)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gateway.api.live import Trends
from gateway.board import DeviceBoard
from gateway.model import BAD, GOOD, Sample

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "api" / "static"


def trends_of(
    latest: dict[str, dict[str, Sample]], points: int = 4, board: DeviceBoard | None = None
) -> Trends:
    board = DeviceBoard() if board is None else board
    for device, samples in latest.items():
        board.add(device, "modbus-tcp").latest = samples
    gateway: Any = SimpleNamespace(board=board)
    return Trends(gateway, step_s=5, points=points)


def test_trends_keep_numbers_only_and_stay_bounded() -> None:
    latest = {"press-1": {"temp": Sample("temp", 1.0, GOOD, 0)}}
    trends = trends_of(latest)
    for i in range(10):
        latest["press-1"]["temp"] = Sample("temp", float(i), GOOD, i)
        latest["press-1"]["recipe"] = Sample("recipe", "A-12", GOOD, i)
        latest["press-1"]["door"] = Sample("door", i % 2 == 0, GOOD, i)
        trends.sample()
    kept = trends.all()
    assert len(kept["ts"]) == 4
    assert kept["devices"]["press-1"]["temp"] == [6.0, 7.0, 8.0, 9.0]
    assert kept["devices"]["press-1"]["recipe"] == [None] * 4
    assert kept["devices"]["press-1"]["door"] == [1.0, 0.0, 1.0, 0.0]
    assert trends.last()["devices"]["press-1"]["temp"] == 9.0


def test_trends_align_new_signals_and_forget_removed_ones() -> None:
    board = DeviceBoard()
    trends = trends_of({"press-1": {"temp": Sample("temp", 1.0, GOOD, 0)}}, board=board)
    trends.sample()
    board.add("press-2", "modbus-tcp").latest = {
        "temp": Sample("temp", None, BAD, 0, error="timeout")
    }
    trends.sample()
    kept = trends.all()["devices"]
    assert kept["press-2"]["temp"] == [None, None]  # as long as the timestamps
    board.remove("press-1")
    trends.sample()
    assert "press-1" not in trends.all()["devices"]


def table(name: str) -> dict[str, str]:
    text = (STATIC / "i18n" / f"{name}.js").read_text()
    return dict(re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)"', text, re.MULTILINE))


def test_both_languages_have_every_key_the_page_uses() -> None:
    en, id_ = table("en"), table("id")
    assert len(en) > 50
    assert en.keys() == id_.keys()
    used = set(re.findall(r'data-i18n="([^"]+)"', (STATIC / "index.html").read_text()))
    fields: set[str] = set()
    for script in ("app.js", "configure.js", "oee.js", "alarms.js"):
        text = (STATIC / script).read_text()
        used |= set(re.findall(r'\bt\(\s*"([^"]+)"', text))
        # Form fields and signal columns are labelled form.NAME or form.sig.NAME.
        fields |= set(
            re.findall(r'\["(\w+)", (?:"(?:text|number|password|checkbox)"|\[|TABLES|TYPES)', text)
        )
    assert {"host", "serial_port", "endpoint", "address", "node", "table"} <= fields
    for name in fields:
        assert f"form.{name}" in en or f"form.sig.{name}" in en, name
    assert {"nav.overview", "msg.invalid", "form.test", "oee.save", "alarms.ack"} <= used
    assert {"alarms.none"} <= used
    assert used <= en.keys(), f"missing translations: {sorted(used - en.keys())}"
    # Keys built at run time: t(`state.${...}`), t(`sev.${...}`), t(`alarm.${...}`).
    severities = ("sev.high", "sev.medium", "sev.low", "alarm.active", "alarm.cleared")
    for key in ("state.online", "state.error", "state.offline", "quality.bad", *severities):
        assert en[key] and id_[key] and en[key] != id_[key]
