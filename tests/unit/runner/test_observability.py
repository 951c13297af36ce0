import json
import logging
import urllib.error
import urllib.request

import pytest

from callpipe.observability import HealthServer, JsonFormatter, bind_call_id


def test_json_log_lines_carry_the_bound_call_id_and_extras():
    formatter = JsonFormatter("transcriber")
    logger = logging.getLogger("test.obs")
    with bind_call_id("CA123"):
        record = logger.makeRecord(
            "test.obs", logging.WARNING, __file__, 1, "retrying %s", ("x",), None, extra={"attempt": 2}
        )
        line = json.loads(formatter.format(record))
    assert line["call_id"] == "CA123"
    assert line["msg"] == "retrying x"
    assert line["service"] == "transcriber"
    assert line["attempt"] == 2
    outside = json.loads(
        formatter.format(logger.makeRecord("test.obs", logging.INFO, __file__, 1, "m", (), None))
    )
    assert "call_id" not in outside


def test_healthz_follows_the_check_and_metrics_are_served():
    state = {"ok": True}
    server = HealthServer(lambda: (state["ok"], "detail"), port=0).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
        state["ok"] = False
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert failed.value.code == 503
        assert json.loads(failed.value.read())["detail"] == "detail"
        failed.value.close()
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            assert b"python_info" in response.read()
    finally:
        server.stop()
