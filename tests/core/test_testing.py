"""logkit.testing.capture_events: the events user code emits, as logkit renders them."""
import logging
import logging.config

import pytest

import logkit
from logkit.testing import capture_events


def test_stdlib_and_structlog_events_alike():
    with capture_events(service="shop", service_type="django") as events:
        logging.getLogger("shop.orders").info("order placed", extra={"event.action": "order.placed",
                                                                     "url.domain": "shop.example"})
        logkit.get_logger("shop.orders").info("order placed", **{"event.action": "order.placed",
                                                                "url.domain": "shop.example"})
    assert len(events) == 2
    for ev in events:
        assert ev["message"] == "order placed" and ev["log.level"] == "info"
        assert ev["event.action"] == "order.placed" and ev["url.domain"] == "shop.example"
        assert ev["service.name"] == "shop" and ev["service.type"] == "django"
        assert ev["log.logger"] == "shop.orders" and ev["event.id"]
        assert ev["@timestamp"].endswith("Z")
    # Same renderer, same fields (ids and times excepted).
    drop = ("event.id", "@timestamp")
    assert {k: v for k, v in events[0].items() if k not in drop} == \
           {k: v for k, v in events[1].items() if k not in drop}


def test_as_rendered_masked_and_nested():
    with capture_events(flat=False) as events:
        logkit.get_logger("x").warning("login", password="hunter2", **{"url.domain": "a.example"},
                                       custom_thing=3)
    ev = events[0]
    assert ev["url"] == {"domain": "a.example"}          # nested, as in the line
    assert "hunter2" not in repr(ev)                        # masked by default, as in the line
    assert ev["extra"]["custom_thing"] == 3                 # unknown names go under extra
    assert list(ev)[:3] == ["@timestamp", "log.level", "message"]


def test_exceptions_and_context():
    with capture_events() as events:
        with logkit.bound(**{"trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"}):
            try:
                {}["missing"]
            except KeyError:
                logging.getLogger("w").exception("failed")
    ev = events[0]
    assert ev["error.type"] == "KeyError" and "Traceback" in ev["error.stack_trace"]
    assert ev["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and ev["log.level"] == "error"


def test_uses_the_applications_formatter_and_writes_nothing_itself(tmp_path, capsys):
    cfg = logkit.logging_config("billing", "celery", stream=None, filename=str(tmp_path / "app.log"),
                                level="WARNING")
    logging.config.dictConfig(cfg)
    with capture_events() as events:
        logging.getLogger("b").debug("seen despite the WARNING level")
        logging.getLogger("b").error("written by the application as usual")
    assert events[0]["service.name"] == "billing" and events[0]["service.type"] == "celery"
    assert [e["log.level"] for e in events] == ["debug", "error"]
    assert logging.getLogger().level == logging.WARNING  # restored
    # The application's file got what its level lets through, and nothing more.
    lines = (tmp_path / "app.log").read_text().splitlines()
    assert len(lines) == 1 and "written by the application" in lines[0]
    assert [h.level for h in logging.getLogger().handlers] == [logging.NOTSET]  # restored too
    assert capsys.readouterr() == ("", "")


def test_capture_stops_at_the_end_of_the_block():
    with capture_events() as events:
        logging.getLogger("a").info("inside")
    logging.getLogger("a").info("outside")
    assert [e["message"] for e in events] == ["inside"]


def test_non_propagating_logger_by_name():
    lg = logging.getLogger("celery.quiet")
    lg.propagate = False
    try:
        with capture_events() as root_events, capture_events("celery.quiet") as own:
            lg.error("boom")
        assert root_events == [] and own[0]["message"] == "boom"
    finally:
        lg.propagate = True


def test_bad_level():
    with pytest.raises(ValueError, match="not a logging level"):
        with capture_events(level="LOUD"):
            pass


def test_explicit_options_win_over_the_applications_formatter(tmp_path):
    logging.config.dictConfig(logkit.logging_config("billing", "celery", stream=None,
                                                    filename=str(tmp_path / "app.log")))
    with capture_events(service="other", mask=False) as events:
        logging.getLogger("b").info("x", extra={"password": "visible"})
    assert events[0]["service.name"] == "other" and events[0]["extra"]["password"] == "visible"
