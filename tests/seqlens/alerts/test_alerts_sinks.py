"""Sinks: the webhook against a real local HTTP server; file and stdout sinks."""

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seqlens.alerts.alert_model import Alert, read_alerts
from seqlens.alerts.sinks import FileSink, StdoutSink, WebhookSink, make_sink


class AlertServer:
    """A real HTTP server on 127.0.0.1 that answers with scripted status codes.

    It records every POST's `Idempotency-Key` (`keys`) and, like a receiver that honours the
    key, acts on each key once (`processed`: key -> alert, first 2xx delivery only). With
    `hold=True` it answers nothing from the `hold_at`-th POST on until `release` is set (a
    receiver that hangs); `arrived` is set when a POST has come in.
    """

    def __init__(self, statuses=(), delay_seconds=0.0, hold=False, hold_at=1):
        self.statuses = list(statuses)  # popped per request; 200 when exhausted
        self.delay_seconds = delay_seconds
        self.hold = hold
        self.hold_at = hold_at
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.received = []
        self.keys = []
        self.processed = {}
        self.attempts = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with server.lock:
                    server.attempts += 1
                    number = server.attempts
                    server.keys.append(self.headers.get("Idempotency-Key"))
                    status = server.statuses.pop(0) if server.statuses else 200
                server.arrived.set()
                if server.hold and number >= server.hold_at:
                    server.release.wait()
                if server.delay_seconds:
                    time.sleep(server.delay_seconds)
                if status == 200:
                    with server.lock:
                        server.received.append(json.loads(body))
                        server.processed.setdefault(
                            self.headers.get("Idempotency-Key"), json.loads(body)
                        )
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client gave up (timeout) or was killed
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def alert(ticker="ACME", start=86_400):
    return Alert(
        ticker=ticker,
        window_start=start,
        window_end=start + 86_400,
        kind="sentiment",
        direction="negative",
        severity="warning",
        statistics={"z": -5.0},
        top_texts=[{"id": "n1", "text": "profit warning", "score": -0.9}],
    ).to_dict()


def webhook(url, tmp_path, **options):
    options = {"timeout_seconds": 2.0, "max_attempts": 3, "backoff_seconds": 0.01, **options}
    return WebhookSink(url, tmp_path / "spool.jsonl", **options)


def test_webhook_delivers_json(tmp_path):
    with AlertServer() as server:
        result = webhook(server.url, tmp_path).send([alert("A"), alert("B")])
    assert result == {"delivered": 2, "failed": 0, "unknown": 0}
    assert [record["ticker"] for record in server.received] == ["A", "B"]
    assert server.keys == [alert("A")["dedup_key"], alert("B")["dedup_key"]]
    assert server.received[0]["top_texts"][0]["text"] == "profit warning"
    assert not (tmp_path / "spool.jsonl").exists()


def test_webhook_retries_after_server_errors(tmp_path):
    with AlertServer(statuses=[500, 503]) as server:
        result = webhook(server.url, tmp_path).send([alert()])
    assert result == {"delivered": 1, "failed": 0, "unknown": 0}
    assert server.attempts == 3 and len(server.received) == 1
    assert server.keys == [alert()["dedup_key"]] * 3  # the same key on every attempt


def test_failed_alert_is_spooled_and_delivered_on_the_next_run(tmp_path):
    with AlertServer(statuses=[500, 500, 500]) as server:
        sink = webhook(server.url, tmp_path)
        assert sink.send([alert()]) == {"delivered": 0, "failed": 1, "unknown": 0}
        assert server.received == []
        spooled = [json.loads(line) for line in (tmp_path / "spool.jsonl").read_text().splitlines()]
        assert spooled[0]["alert"]["dedup_key"] == alert()["dedup_key"]
        assert "HTTP 500" in spooled[0]["error"]
        # next run: the server is healthy again
        assert sink.deliver_spooled() == {"delivered": 1, "failed": 0, "unknown": 0}
    assert [record["dedup_key"] for record in server.received] == [alert()["dedup_key"]]
    assert not (tmp_path / "spool.jsonl").exists()


def test_unreachable_server_never_raises_and_keeps_the_alert(tmp_path):
    with AlertServer() as server:
        url = server.url
    sink = webhook(url, tmp_path, max_attempts=2)  # the server is gone: connection refused
    assert sink.send([alert()]) == {"delivered": 0, "failed": 1, "unknown": 0}
    assert sink.deliver_spooled() == {"delivered": 0, "failed": 1, "unknown": 0}
    assert len((tmp_path / "spool.jsonl").read_text().splitlines()) == 1


def test_timeout_is_unknown_not_retried_and_kept_pending_for_the_next_run(tmp_path):
    # The receiver answers after the timeout: it may have acted on the alert, so the alert is
    # `unknown` (not failed), sent once in this run (not max_attempts times), kept in the outbox
    # and sent again next run with the same key, which the receiver drops as a repeat.
    with AlertServer(delay_seconds=1.0) as server:
        sink = webhook(server.url, tmp_path, timeout_seconds=0.2, max_attempts=4)
        assert sink.send([alert("A"), alert("B")]) == {"delivered": 0, "failed": 0, "unknown": 2}
        assert server.attempts == 2
        spooled = [json.loads(line) for line in (tmp_path / "spool.jsonl").read_text().splitlines()]
        assert [record["status"] for record in spooled] == ["unknown", "unknown"]
        assert "imed out" in spooled[0]["error"] and spooled[0]["attempts"] == 1
        server.delay_seconds = 0.0  # the next run: the receiver is fast again
        assert sink.deliver_spooled() == {"delivered": 2, "failed": 0, "unknown": 0}
    keys = [alert("A")["dedup_key"], alert("B")["dedup_key"]]
    assert server.keys == keys + keys
    assert list(server.processed) == keys  # each acted on once
    assert not (tmp_path / "spool.jsonl").exists()


def test_connection_refused_is_failed_and_retried(tmp_path):
    with AlertServer() as server:
        url = server.url
    sink = webhook(url, tmp_path, max_attempts=3)
    assert sink.send([alert()]) == {"delivered": 0, "failed": 1, "unknown": 0}
    (record,) = [json.loads(line) for line in (tmp_path / "spool.jsonl").read_text().splitlines()]
    assert record["status"] == "failed" and "ConnectionRefusedError" in record["error"]


def test_spool_left_sending_by_a_killed_redelivery_is_recovered(tmp_path):
    # What earlier versions left when killed while re-sending the spool: `<spool>.sending`.
    stranded = tmp_path / "spool.jsonl.sending"
    stranded.write_text(
        json.dumps({"alert": alert("A"), "error": "HTTP 500", "time": 1})
        + "\n"
        + json.dumps({"alert": alert("B"), "error": "HTTP 500", "time": 1})
        + "\n"
    )
    (tmp_path / "spool.jsonl").write_text(
        json.dumps({"alert": alert("C"), "error": "HTTP 503", "time": 2}) + "\n"
    )
    with AlertServer() as server:
        assert webhook(server.url, tmp_path).deliver_spooled() == {
            "delivered": 3,
            "failed": 0,
            "unknown": 0,
        }
    assert sorted(record["ticker"] for record in server.received) == ["A", "B", "C"]
    assert not stranded.exists() and not (tmp_path / "spool.jsonl").exists()


def test_spool_is_rewritten_whole_and_a_half_line_from_older_versions_is_skipped(tmp_path):
    (tmp_path / "spool.jsonl").write_text(
        json.dumps({"alert": alert("A"), "error": "HTTP 500", "time": 1}) + '\n{"alert": {"ti'
    )
    with AlertServer(statuses=[500, 500, 500]) as server:
        sink = webhook(server.url, tmp_path)
        assert sink.deliver_spooled() == {"delivered": 0, "failed": 1, "unknown": 0}
    lines = (tmp_path / "spool.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["alert"]["ticker"] == "A"
    assert [path.name for path in tmp_path.iterdir()] == ["spool.jsonl"]  # no temporary left


def test_client_error_is_not_retried_but_spooled(tmp_path):
    with AlertServer(statuses=[400]) as server:
        result = webhook(server.url, tmp_path).send([alert()])
        assert result == {"delivered": 0, "failed": 1, "unknown": 0}
        assert server.attempts == 1
    assert (tmp_path / "spool.jsonl").exists()


def test_file_sink_merges_by_dedup_key(tmp_path):
    sink = FileSink(tmp_path / "alerts.jsonl")
    assert sink.send([alert("A"), alert("B")])["delivered"] == 2
    assert sink.send([alert("A"), alert("C")]) == {"delivered": 1, "failed": 0, "duplicates": 1}
    assert [record["ticker"] for record in read_alerts(tmp_path / "alerts.jsonl")] == [
        "A",
        "B",
        "C",
    ]


def test_stdout_sink_writes_json_lines():
    stream = io.StringIO()
    StdoutSink(stream).send([alert("A")])
    assert json.loads(stream.getvalue())["ticker"] == "A"


@pytest.mark.parametrize(
    "options, name",
    [
        ({"url": "ftp://x"}, "url"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff_seconds": -1}, "backoff_seconds"),
    ],
)
def test_bad_webhook_settings_name_the_argument(tmp_path, options, name):
    arguments = {"url": "http://127.0.0.1:9/x", "spool_path": tmp_path / "s.jsonl", **options}
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        WebhookSink(**arguments)


def test_make_sink_needs_a_url_for_webhooks(tmp_path):
    with pytest.raises(ValueError, match="Received: webhook_url=None"):
        make_sink("webhook", tmp_path)
    with pytest.raises(ValueError, match="Received: sink='pager'"):
        make_sink("pager", tmp_path)
