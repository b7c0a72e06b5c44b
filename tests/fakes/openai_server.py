"""A small scripted LLM server for tests and benchmarks: OpenAI-compatible
``/v1/chat/completions`` and Anthropic-compatible ``/v1/messages``, on 127.0.0.1.

It is a real HTTP server in a thread (the standard library's threading server, with
keep-alive). Tests queue the answers it gives, in order, whichever route asks::

    server.push("plain text", {"summary": "an object sent as JSON text"})
    server.push(Reply(status=429, headers={"Retry-After": "0"}), Reply(delay=5))

A reply may call tools instead of (or besides) answering, in the format of the route
asked: ``Reply(tool_calls=[{"name": "calculator", "arguments": {"expression": "1+1"}}])``
answers OpenAI's ``tool_calls`` (finish_reason ``tool_calls``) on /v1/chat/completions and
``tool_use`` blocks (stop_reason ``tool_use``) on /v1/messages. ``arguments`` given as a
string is sent as it is (OpenAI sends arguments as JSON text: a test can send bad JSON).

Once the queue is empty every request gets the default answer at once: a deterministic
text, or a minimal JSON object matching the schema when the request asked for
``response_format`` json_schema (or json_object with a schema). Every request received is
recorded (``server.requests``) so a test can assert on what was sent.

``response_formats`` limits the response_format types accepted, the way servers differ:
``FakeLLMServer(response_formats=LLAMA_CPP_FORMATS)`` refuses json_schema exactly as
llama-cpp-python's server does (HTTP 500, "Input should be 'text' or 'json_object'"),
without using a queued answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_UNSET: Any = object()
# The response_format types llama-cpp-python's server (0.3) accepts.
LLAMA_CPP_FORMATS = ("text", "json_object")


@dataclass
class Reply:
    """One scripted answer.

    ``text`` is the assistant's text (or ``json``, sent as JSON text). ``status`` >= 400
    answers with an error body carrying ``error`` as its message. ``body`` is sent as it
    is instead (malformed JSON ...). ``delay`` waits before answering; ``chunk_delay``
    waits between streamed pieces. Token counts default to word counts.
    """

    text: str | None = None
    json: Any = _UNSET
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    body: str | bytes | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage: bool = True
    finish_reason: str = "stop"
    chunks: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def last_user_text(self) -> str:
        users = [m.get("content", "") for m in self.messages if m.get("role") == "user"]
        return str(users[-1]) if users else ""


Responder = Callable[[RecordedRequest], "Reply | str | Mapping[str, Any]"]


def sample_for_schema(schema: Mapping[str, Any]) -> Any:
    """A small value that matches a JSON Schema (enough for the shapes workflows use)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return sample_for_schema(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample_for_schema(sub) for name, sub in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [sample_for_schema(schema.get("items", {})) for _ in range(count)]
    samples = {"string": "fake", "integer": 0, "number": 0.0, "boolean": False, "null": None}
    return samples.get(kind, "fake")


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str) -> list[str]:
    # Word by word, spaces kept, so that joining the pieces gives the text back.
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class FakeLLMServer:
    """The scripted server. Use as a context manager, or the ``fake_llm_server`` fixture."""

    def __init__(
        self,
        *,
        model: str = "fake-model",
        default: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        response_formats: Collection[str] | None = None,
        refusal_status: int = 500,
        refusal_delay: float = 0.0,
    ) -> None:
        self.model = model
        self.default = default
        # None: every response_format type is accepted.
        self.response_formats = None if response_formats is None else tuple(response_formats)
        self.refusal_status = refusal_status
        self.refusal_delay = refusal_delay
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        # TCP connections accepted so far (a pooling client opens one for many calls).
        self.connections_opened = 0
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return self.url + "/v1"

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections (a later server on the same
        port must not receive requests meant for this one)."""
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, *replies: Reply | str | Mapping[str, Any]) -> None:
        """Queue answers: a Reply, a text, or a dict (sent as JSON text)."""
        with self._lock:
            self._replies.extend(_as_reply(reply) for reply in replies)

    @property
    def pending(self) -> int:
        """How many queued answers are still unused."""
        with self._lock:
            return len(self._replies)

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def clear(self) -> None:
        """Forget the queued answers and the recorded requests."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()

    def sleep(self, seconds: float) -> bool:
        """Wait, unless the server stops first; True when it is stopping."""
        return seconds > 0 and self._stopping.wait(seconds)

    @property
    def refused(self) -> list[RecordedRequest]:
        """The requests refused for their response_format."""
        return [request for request in self.requests if self._refusal(request.body)]

    def _refusal(self, body: Any) -> Reply | None:
        """The answer to a response_format this server does not accept, as
        llama-cpp-python's server gives it (its validation error, as HTTP 500)."""
        if self.response_formats is None or not isinstance(body, dict):
            return None
        kind = (body.get("response_format") or {}).get("type")
        if kind is None or kind in self.response_formats:
            return None
        expected = " or ".join(f"'{name}'" for name in self.response_formats)
        error = {
            "type": "literal_error",
            "loc": ("body", "response_format", "type"),
            "msg": f"Input should be {expected}",
            "input": kind,
        }
        return Reply(
            status=self.refusal_status,
            error=f"1 validation error:\n  {error}",
            delay=self.refusal_delay,
        )

    def _record(self, request: RecordedRequest) -> Reply:
        refusal = self._refusal(request.body)
        with self._lock:
            self.requests.append(request)
            if refusal is not None:
                return refusal
            if self._replies:
                return self._replies.popleft()
        if self.default is not None:
            return _as_reply(self.default(request))
        schema = _requested_schema(request.body)
        if schema is not None:
            return Reply(json=sample_for_schema(schema))
        return Reply(text=f"fake reply to: {request.last_user_text[:80]}")

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
                self.connections_opened += 1
            else:
                self._connections.discard(connection)


def _as_reply(reply: Reply | str | Mapping[str, Any]) -> Reply:
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply(text=reply)
    return Reply(json=dict(reply))


def _requested_schema(body: Any) -> Mapping[str, Any] | None:
    if not isinstance(body, dict):
        return None
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or {}
    if response_format.get("type") == "json_object":
        return response_format.get("schema") or {}
    return None


def _reply_text(reply: Reply) -> str:
    if reply.json is not _UNSET:
        return json.dumps(reply.json)
    return reply.text if reply.text is not None else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add about 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, True)

    def handle(self) -> None:
        # A client that drops its kept-alive connection (a timeout, a closed pool) resets
        # it while the next request is awaited: the end of that connection, not an error.
        with contextlib.suppress(ConnectionError):
            super().handle()

    def finish(self) -> None:
        self.server.fake._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read the recorded requests, not a log

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            fake = self.server.fake
            self._send_json(200, {"object": "list", "data": [{"id": fake.model}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw
        path = self.path.split("?")[0].rstrip("/")
        request = RecordedRequest(
            "POST", path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        fake = self.server.fake
        if path not in ("/v1/chat/completions", "/v1/messages"):
            with fake._lock:
                fake.requests.append(request)
            self._send_json(404, {"error": {"message": f"no route {path}"}})
            return
        reply = fake._record(request)
        if fake.sleep(reply.delay):
            return
        anthropic = path == "/v1/messages"
        if reply.body is not None:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            self._send(reply.status, data, "application/json", reply.headers)
        elif reply.status >= 400:
            self._send_error(reply, anthropic)
        elif isinstance(body, dict) and body.get("stream"):
            self._stream(reply, body, anthropic)
        else:
            self._send_json(200, self._answer(reply, body, anthropic), reply.headers)

    def _usage(self, reply: Reply, body: Any, text: str) -> tuple[int, int]:
        prompt = reply.prompt_tokens
        if prompt is None:
            messages = body.get("messages", []) if isinstance(body, dict) else []
            system = body.get("system", "") if isinstance(body, dict) else ""
            prompt = _words(str(system)) + sum(_words(str(m.get("content", ""))) for m in messages)
        completion = reply.completion_tokens
        return prompt, _words(text) if completion is None else completion

    def _answer(self, reply: Reply, body: Any, anthropic: bool) -> dict:
        text = _reply_text(reply)
        prompt, completion = self._usage(reply, body, text)
        model = body.get("model", self.server.fake.model) if isinstance(body, dict) else ""
        calls = reply.tool_calls or []
        if anthropic:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": text}] if text or not calls else []
            )
            blocks += [
                {
                    "type": "tool_use",
                    "id": call.get("id") or f"toolu_{index}",
                    "name": call["name"],
                    "input": call.get("arguments", {}),
                }
                for index, call in enumerate(calls)
            ]
            stop = "max_tokens" if reply.finish_reason == "length" else "end_turn"
            answer: dict[str, Any] = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": "tool_use" if calls else stop,
            }
            if reply.usage:
                answer["usage"] = {"input_tokens": prompt, "output_tokens": completion}
            return answer
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["content"] = text or None
            message["tool_calls"] = [
                {
                    "id": call.get("id") or f"call_{index}",
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": call["arguments"]
                        if isinstance(call.get("arguments"), str)
                        else json.dumps(call.get("arguments", {})),
                    },
                }
                for index, call in enumerate(calls)
            ]
        answer = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else reply.finish_reason,
                }
            ],
        }
        if reply.usage:
            answer["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return answer

    def _stream(self, reply: Reply, body: dict, anthropic: bool) -> None:
        text = _reply_text(reply)
        prompt, completion = self._usage(reply, body, text)
        pieces = reply.chunks if reply.chunks is not None else _pieces(text)
        events = (
            _anthropic_events(pieces, prompt, completion, reply)
            if anthropic
            else _openai_events(pieces, prompt, completion, reply, body)
        )
        # Chunked and kept alive, as OpenAI, vLLM, Ollama and llama.cpp's server stream: the
        # client's pooled connection serves the next call (no new TCP connection each).
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        fake = self.server.fake
        try:
            for index, event in enumerate(events):
                if index and fake.sleep(reply.chunk_delay):
                    self.close_connection = True  # stopping: the body stays unfinished
                    return
                data = event.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away (timeout tests)

    def _send_error(self, reply: Reply, anthropic: bool) -> None:
        message = reply.error or HTTPStatus(reply.status).phrase
        if anthropic:
            body = {"type": "error", "error": {"type": "api_error", "message": message}}
        else:
            body = {"error": {"message": message, "type": "fake_error", "code": reply.status}}
        self._send_json(reply.status, body, reply.headers)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers or {})

    def _send(
        self, status: int, data: bytes, content_type: str, headers: Mapping[str, str]
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n"


def _openai_events(
    pieces: list[str], prompt: int, completion: int, reply: Reply, body: dict
) -> Iterator[str]:
    def chunk(delta: dict, finish: str | None = None) -> str:
        return _sse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": body.get("model", ""),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, reply.finish_reason)
    if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        yield _sse({"id": "chatcmpl-fake", "choices": [], "usage": usage})
    yield _sse("[DONE]")


def _anthropic_events(
    pieces: list[str], prompt: int, completion: int, reply: Reply
) -> Iterator[str]:
    usage = {"input_tokens": prompt, "output_tokens": 1} if reply.usage else {}
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "content": []}
    yield _sse({"type": "message_start", "message": {**message, "usage": usage}}, "message_start")
    start = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    yield _sse(start, "content_block_start")
    for piece in pieces:
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": piece},
        }
        yield _sse(delta, "content_block_delta")
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    stop = "max_tokens" if reply.finish_reason == "length" else "end_turn"
    end: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": stop}}
    if reply.usage:
        end["usage"] = {"output_tokens": completion}
    yield _sse(end, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


@pytest.fixture
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """A running FakeLLMServer; import this fixture into a conftest to use it."""
    with FakeLLMServer() as server:
        yield server
