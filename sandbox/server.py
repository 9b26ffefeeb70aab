"""The sandbox server: moto's WSGI app, patched with fill-ins, behind a thin control layer.

The control layer answers ``/_sandbox/*`` (ledger, scenario, faults, ingest, reset), applies
fault rules to AWS calls, and serves the few Lambda routes moto has none for.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from . import state
from .fills import classify as _classify
from .fills import faults as _faults

_installed = False
_install_lock = threading.Lock()


def install_fills() -> None:
    """Patch moto (idempotent) and switch Lambda to the no-Docker backend before anything exists."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.core.config import default_user_config

        default_user_config.setdefault("lambda", {})["use_docker"] = False
        from .fills import alias_fill, lambda_fill, log_filter, logs_insights, metrics, sqs_move, sqs_speed, xray_fill

        metrics.install()
        log_filter.install()
        lambda_fill.install()
        alias_fill.install()
        sqs_move.install()
        sqs_speed.install()
        xray_fill.install()
        logs_insights.install()
        _installed = True


def reset_all() -> None:
    """Wipe every AWS backend and the sandbox's own state; keep the no-Docker Lambda config."""
    from moto.moto_api._internal.models import moto_api_backend

    from .runner import forget_generators

    from .fills.cloudtrail import TRAIL

    from .fills import invocations

    sqs_move_stop_all()
    invocations.clear()
    moto_api_backend.reset()
    state.reset()
    TRAIL.clear()
    forget_generators()


def sqs_move_stop_all() -> None:
    from .fills import sqs_move

    sqs_move.stop_all()


_REASON = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode()
    start_response(f"{status} {_REASON.get(status, 'OK' if status < 400 else 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class SandboxApp:
    def __init__(self) -> None:
        install_fills()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self.control(environ, start_response, path[len("/_sandbox/"):])
        if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            reset_all()
            return _json(start_response, 200, {"status": "ok"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip" and body:
            # boto3 >= 1.43 gzips PutMetricData bodies; moto cannot read them
            body = gzip.decompress(body)
            del environ["HTTP_CONTENT_ENCODING"]
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation, account, region = _classify.classify(environ, body)
        rule = state.FAULTS.pick(service, operation, account, region) if state.FAULTS.rules else None
        if rule is not None and rule.per_entry:
            if service == "sqs" and operation.endswith("Batch"):
                return self.batch_entry_faults(environ, start_response, body, rule)
            rule = None
        if rule is not None:
            resp = _faults.apply(rule, service, operation, environ)
            if resp is not None:
                status, headers, rbody = resp
                headers.append(("Content-Length", str(len(rbody))))
                start_response(f"{status} {_REASON.get(status, 'Error')}", headers)
                return [rbody]
        if service == "sts" and operation == "AssumeRole":
            from .fills import sts_trust

            message = sts_trust.refusal(body, account)
            if message is not None:
                status, headers, rbody = _faults.error_response("sts", "AccessDenied", message, 403, environ)
                headers.append(("Content-Length", str(len(rbody))))
                start_response(f"{status} {_REASON.get(status, 'Error')}", headers)
                return [rbody]
        if service == "cloudtrail" and operation == "LookupEvents":
            return self.lookup_events(environ, start_response, body, account, region)
        if service == "lambda":
            return self.lambda_call(environ, start_response, body, operation, account, region)
        return self.moto(environ, start_response)

    def lambda_call(self, environ: dict[str, Any], start_response: Callable, body: bytes, operation: str,
                    account: str, region: str) -> Any:
        """Answer a Lambda call (a fill-in route or moto) and record it in CloudTrail, the one path
        every client's Lambda writes take (the product, scenarios, tests)."""
        from .fills import cloudtrail, lambda_fill

        handled = lambda_fill.extra_route(environ, body, operation, account, region)
        if handled is not None:
            status, payload = handled
            hdrs = [("Content-Type", "application/json")]
            if status >= 400:
                error_type = payload.pop("Type_", "ResourceNotFoundException")
                hdrs.append(("x-amzn-ErrorType", error_type))
                environ["sandbox.error_type"] = error_type
            rbody = json.dumps(payload).encode() if payload is not None else b""
            hdrs.append(("Content-Length", str(len(rbody))))
            start_response(f"{status} {_REASON.get(status, 'OK')}", hdrs)
            chunks = [rbody]
        else:
            seen: dict[str, Any] = {}

            def capture(status_line: str, headers: list, exc_info: Any = None) -> Any:
                seen["status"] = int(status_line.split()[0])
                for k, v in headers:
                    if k.lower() == "x-amzn-errortype":
                        environ["sandbox.error_type"] = v.split(":")[0]
                return start_response(status_line, headers, exc_info)

            chunks = list(self.moto(environ, capture))
            status = seen.get("status", 200)
        if operation == "Invoke":
            from .fills import invocations

            invocations.record(environ, body, status, account, region)
        m = _classify._SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            cloudtrail.record(operation=operation, environ=environ, body=body, status=status,
                              response=b"".join(chunks), account=account, region=region,
                              access_key=m.group(1) if m else None)
        except Exception:  # noqa: BLE001 - a recording problem never fails the AWS call itself
            pass
        return chunks

    def batch_entry_faults(self, environ: dict[str, Any], start_response: Callable, body: bytes, rule: Any) -> Any:
        """An SQS batch call with some entries failed by a per-entry fault rule (JSON protocol):
        the rest go to moto, and the failed ones are added to its answer's ``Failed``."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return self.moto(environ, start_response)
        kept, failed = [], []
        for entry in request.get("Entries", []):
            if state.FAULTS.entry_fails(rule):
                failed.append({"Id": entry.get("Id"), "Code": rule.error or "InternalError",
                               "Message": rule.message or "Rate exceeded", "SenderFault": False})
            else:
                kept.append(entry)
        answer: dict[str, Any] = {"Successful": []}
        status_line, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.0")]
        if kept:
            forwarded = json.dumps({**request, "Entries": kept}).encode()
            environ["wsgi.input"] = io.BytesIO(forwarded)
            environ["CONTENT_LENGTH"] = str(len(forwarded))
            seen: dict[str, Any] = {}

            def capture(line: str, hdrs: list, exc_info: Any = None) -> Any:
                seen["line"], seen["headers"] = line, hdrs
                return lambda data: None

            raw = b"".join(self.moto(environ, capture))
            if not seen.get("line", "").startswith("200"):
                start_response(seen["line"], seen["headers"])
                return [raw]
            answer = json.loads(raw or b"{}")
            headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
        answer["Failed"] = list(answer.get("Failed") or []) + failed
        if not answer.get("Successful"):
            answer["Successful"] = []
        rbody = json.dumps(answer).encode()
        headers.append(("Content-Length", str(len(rbody))))
        start_response(status_line, headers)
        return [rbody]

    def lookup_events(self, environ: dict[str, Any], start_response: Callable, body: bytes, account: str,
                      region: str) -> Any:
        from .fills import cloudtrail

        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        status, payload = cloudtrail.lookup(account, region, request)
        rbody = json.dumps(payload).encode()
        hdrs = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(rbody)))]
        if status >= 400:
            hdrs.append(("x-amzn-query-error", f"{payload['__type']};Sender"))
        start_response(f"{status} {_REASON.get(status, 'Error')}", hdrs)
        return [rbody]

    # -- control plane -------------------------------------------------------------------------
    def control(self, environ: dict[str, Any], start_response: Callable, route: str) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return _json(start_response, 400, {"error": "body must be JSON"})
        q = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if route == "health":
                return _json(start_response, 200, {"ok": True})
            if route == "ledger":
                rows = state.LEDGER.query(function=q.get("function"), start=q.get("start"), end=q.get("end"),
                                          account=q.get("account"), region=q.get("region"),
                                          by_version=q.get("by_version") in ("1", "true"))
                return _json(start_response, 200, {"rows": rows})
            if route == "ledger/totals":
                return _json(start_response, 200, state.LEDGER.totals(function=q.get("function"),
                                                                      start=q.get("start"), end=q.get("end")))
            if route == "faults":
                if method == "POST":
                    rules = data if isinstance(data, list) else [data]
                    added = [state.FAULTS.add(r).id for r in rules]
                    return _json(start_response, 200, {"added": added, "rules": state.FAULTS.as_json()})
                if method == "DELETE":
                    state.FAULTS.clear()
                    return _json(start_response, 200, {"rules": []})
                return _json(start_response, 200, {"rules": state.FAULTS.as_json()})
            if route == "invocations":
                from .fills import invocations

                return _json(start_response, 200, {"invocations": invocations.query(q.get("function"))})
            if route == "scenario":
                if method == "POST":
                    from . import scenarios

                    own = f"http://{environ.get('HTTP_HOST') or environ['SERVER_NAME'] + ':' + environ['SERVER_PORT']}"
                    return _json(start_response, 200, scenarios.apply(
                        own, data.get("name", "steady"), function=data.get("function"),
                        account=data.get("account"), region=data.get("region")))
                return _json(start_response, 200, state.scenario_json())
            if route == "ingest" and method == "POST":
                from . import ingest

                counts = ingest.apply_batch(data)
                return _json(start_response, 200, counts)
            if route == "prune" and method == "POST":
                from .retention import prune

                return _json(start_response, 200, prune(float(data["before"])))
            if route == "cloudtrail":
                from .fills.cloudtrail import TRAIL

                delivered = 0
                if method == "POST" and "delay_s" in data:
                    TRAIL.delay_s = max(0.0, float(data["delay_s"]))
                if method == "POST" and data.get("deliver"):
                    delivered = TRAIL.deliver(time.time())
                return _json(start_response, 200, {"delay_s": TRAIL.delay_s, "events": len(TRAIL.events),
                                                   "delivered": delivered})
            if route == "reset" and method == "POST":
                reset_all()
                return _json(start_response, 200, {"status": "ok"})
            if route == "estate":
                if method == "POST":
                    state.ESTATE = data
                return _json(start_response, 200, state.ESTATE or {})
        except (ValueError, KeyError, TypeError) as exc:
            return _json(start_response, 400, {"error": str(exc)})
        except Exception as exc:  # an AWS call inside a scenario failed (e.g. an injected fault)
            return _json(start_response, 500, {"error": f"{type(exc).__name__}: {exc}"})
        return _json(start_response, 404, {"error": f"unknown route {route}"})


class SandboxServer:
    """The sandbox on a loopback port in a background thread (``port=0`` picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        from werkzeug.serving import make_server
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        class Handler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                if verbose:
                    super().log_request(*args, **kwargs)

        self.app = SandboxApp()
        self._server = make_server(host, port, self.app, threaded=True, request_handler=Handler)
        self.host, self.port = self._server.server_address[:2]
        self.endpoint = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def reset(self) -> None:
        reset_all()

    def stop(self) -> None:
        sqs_move_stop_all()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
