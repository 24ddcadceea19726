"""exec-server wire format: JSON-RPC 2.0 envelope, method names, error codes, param decoding.

Pure data: nothing here does I/O or needs an event loop, so the handler, the transports, the
remote client and the tests all share one definition of what goes over the wire. Field names
are camelCase on the wire and snake_case in Python.

Methods (client -> server): `initialize`, then the notification `initialized`, then
`process/start`, `process/read`, `process/write`, `process/terminate` and our extension
`process/signal`:

    process/signal {processId, signal: "SIGINT" | "SIGTERM" | ...} -> {delivered: bool}

It sends one signal to the process's whole process group (so unified_exec can deliver Ctrl-C
to a non-tty session on a remote server). `delivered` is false when the process is unknown,
still starting or already exited. `process/start` also accepts our optional `sandbox` param: a
sandbox policy dict (`SandboxPolicy.to_wire()`) or null for no sandbox.

Notifications (server -> client): `process/output`, `process/exited`, `process/closed`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codex.exec_server.backend import Closed, Exited, Output, ReadResult, StartParams

JSONRPC_VERSION = "2.0"

# JSON-RPC error codes used by the spec.
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# A frame we could not parse has no id we could echo.
PARSE_ERROR_ID = -1
PARSE_ERROR_PREFIX = "failed to parse JSON-RPC message"

INITIALIZE = "initialize"
INITIALIZED = "initialized"
PROCESS_START = "process/start"
PROCESS_READ = "process/read"
PROCESS_WRITE = "process/write"
PROCESS_TERMINATE = "process/terminate"
PROCESS_SIGNAL = "process/signal"  # ours
PROCESS_OUTPUT = "process/output"
PROCESS_EXITED = "process/exited"
PROCESS_CLOSED = "process/closed"

PROCESS_METHODS = frozenset(
    {PROCESS_START, PROCESS_READ, PROCESS_WRITE, PROCESS_TERMINATE, PROCESS_SIGNAL}
)
REQUEST_METHODS = PROCESS_METHODS | {INITIALIZE}

# Signals `process/signal` may send, by wire name.
SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGWINCH")

# Messages of the handshake rules (spec "Handshake").
MSG_INITIALIZE_TWICE = "initialize may only be sent once per connection"
MSG_NOT_INITIALIZED = "client must call initialize before using exec methods"
MSG_NOT_INITIALIZED_NOTIFIED = "client must send initialized before using exec methods"
MSG_EMPTY_ARGV = "argv must not be empty"


class ProtocolError(Exception):
    """A request failed in a way the client is told about as a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


# --- envelope ---------------------------------------------------------------------------

RequestId = int | str


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Response:
    """A response or error object; servers never expect one from a client."""

    id: RequestId | None
    result: Any = None
    error: Mapping[str, Any] | None = None


Message = Request | Notification | Response


class ParseError(ProtocolError):
    """A frame that is not a message. `id` is the request's id when the frame was a request
    with a usable id (its error goes back under that id), else PARSE_ERROR_ID."""

    def __init__(self, detail: str, id: RequestId = PARSE_ERROR_ID,
                 code: int = INVALID_REQUEST, prefix: bool = True) -> None:
        super().__init__(code, f"{PARSE_ERROR_PREFIX}: {detail}" if prefix else detail)
        self.id = id


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def parse_message(frame: str | bytes | Mapping[str, Any]) -> Message:
    """Decode one frame/line into a message; raise ParseError for anything else."""
    if isinstance(frame, str | bytes | bytearray):
        try:
            obj = json.loads(frame)
        except (ValueError, UnicodeDecodeError) as e:
            raise ParseError(str(e)) from None
    else:
        obj = frame
    if not isinstance(obj, dict):
        raise ParseError(f"expected a JSON object, got {type(obj).__name__}")
    if "jsonrpc" in obj and obj["jsonrpc"] != JSONRPC_VERSION:
        raise ParseError('"jsonrpc" must be "2.0"')
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            raise ParseError('"method" must be a string')
        params = obj.get("params")
        has_id = "id" in obj
        if has_id and not _is_id(obj["id"]):
            raise ParseError('"id" must be an integer or a string')
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            if has_id:
                raise ParseError("invalid params: `params` must be an object", obj["id"],
                                 INVALID_PARAMS, prefix=False)
            raise ParseError('"params" must be an object')
        if has_id:
            return Request(obj["id"], method, params)
        return Notification(method, params)
    if "id" in obj and ("result" in obj or "error" in obj):
        if obj["id"] is not None and not _is_id(obj["id"]):
            raise ParseError('"id" must be an integer or a string')
        error = obj.get("error")
        if error is not None and not isinstance(error, dict):
            raise ParseError('"error" must be an object')
        return Response(obj["id"], obj.get("result"), error)
    raise ParseError("not a request, notification or response")


def encode(message: Mapping[str, Any] | str) -> str:
    """One message as compact JSON text (one frame / one line); text passes through.

    ASCII-only: a client may send lone surrogates (valid JSON escapes, invalid UTF-8), and
    echoing one back in an id or process id must not make the frame unencodable."""
    if isinstance(message, str):
        return message
    return json.dumps(message, separators=(",", ":"))


def request(id: RequestId, method: str, params: Mapping[str, Any] | None = None) -> dict:
    msg: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "id": id, "method": method}
    if params is not None:
        msg["params"] = dict(params)
    return msg


def notification(method: str, params: Mapping[str, Any] | None = None) -> dict:
    msg: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "method": method}
    if params is not None:
        msg["params"] = dict(params)
    return msg


def result_response(id: RequestId, result: Any) -> dict:
    return {"jsonrpc": JSONRPC_VERSION, "id": id, "result": result}


def error_response(id: RequestId | None, error: ProtocolError) -> dict:
    return {"jsonrpc": JSONRPC_VERSION, "id": id, "error": error.to_wire()}


# --- params -----------------------------------------------------------------------------

def _invalid(field: str, what: str) -> ProtocolError:
    return ProtocolError(INVALID_PARAMS, f"invalid params: `{field}` {what}")


def _field(params: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str, *,
           required: bool = True, default: Any = None) -> Any:
    if name not in params or (params[name] is None and not required):
        if required:
            raise ProtocolError(INVALID_PARAMS, f"invalid params: missing field `{name}`")
        return default
    value = params[name]
    # bool is an int subclass; an int field must not accept true/false.
    if (not isinstance(value, kind)
            or (isinstance(value, bool) and kind in (int, (int, type(None))))):
        raise _invalid(name, f"must be {what}")
    return value


def _int_field(params: Mapping[str, Any], name: str, *, minimum: int = 0) -> int | None:
    value = _field(params, name, int, "an integer or null", required=False)
    if value is not None and value < minimum:
        raise _invalid(name, f"must be >= {minimum}")
    return value


def decode_initialize(params: Mapping[str, Any]) -> str:
    return _field(params, "clientName", str, "a string")


def decode_process_id(params: Mapping[str, Any]) -> str:
    return _field(params, "processId", str, "a string")


def decode_start(params: Mapping[str, Any]) -> StartParams:
    process_id = decode_process_id(params)
    argv = _field(params, "argv", list, "an array of strings")
    if not all(isinstance(a, str) for a in argv):
        raise _invalid("argv", "must be an array of strings")
    if not argv:
        raise ProtocolError(INVALID_PARAMS, MSG_EMPTY_ARGV)
    cwd = _field(params, "cwd", str, "a string")
    if not cwd.startswith("/") and not (len(cwd) > 2 and cwd[1] == ":"):
        raise _invalid("cwd", "must be an absolute path")
    env = _field(params, "env", dict, "an object of strings")
    if not all(isinstance(v, str) for v in env.values()):
        raise _invalid("env", "must be an object of strings")
    if any(not k or "=" in k for k in env):
        # execve cannot pass such a name; without this the spawn fails as an internal error.
        raise _invalid("env", "names must be non-empty and must not contain '='")
    tty = _field(params, "tty", bool, "a boolean")
    pipe_stdin = _field(params, "pipeStdin", bool, "a boolean", required=False, default=False)
    arg0 = _field(params, "arg0", str, "a string or null", required=False)
    sandbox = _field(params, "sandbox", dict, "an object or null", required=False)
    for s in (*argv, cwd, *env, *env.values(), arg0 or ""):
        if "\0" in s:
            raise _invalid("argv/cwd/env/arg0", "must not contain NUL characters")
    return StartParams(process_id=process_id, argv=list(argv), cwd=cwd, env=dict(env), tty=tty,
                       pipe_stdin=pipe_stdin, arg0=arg0, sandbox=sandbox)


@dataclass(frozen=True, slots=True)
class ReadParams:
    process_id: str
    after_seq: int
    max_bytes: int | None
    wait_ms: int


def decode_read(params: Mapping[str, Any]) -> ReadParams:
    process_id = decode_process_id(params)
    after_seq = _int_field(params, "afterSeq") or 0
    max_bytes = _int_field(params, "maxBytes")
    wait_ms = _int_field(params, "waitMs") or 0
    return ReadParams(process_id, after_seq, max_bytes, wait_ms)


def decode_write(params: Mapping[str, Any]) -> tuple[str, bytes]:
    process_id = decode_process_id(params)
    chunk = _field(params, "chunk", str, "a base64 string")
    try:
        data = base64.b64decode(chunk, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("chunk", "is not valid base64") from None
    return process_id, data


def decode_signal(params: Mapping[str, Any]) -> tuple[str, str]:
    process_id = decode_process_id(params)
    sig = _field(params, "signal", str, "a string")
    if sig not in SIGNAL_NAMES:
        raise _invalid("signal", f"must be one of {', '.join(SIGNAL_NAMES)}")
    return process_id, sig


# --- results and notifications ----------------------------------------------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_chunk(process_id: str | None, ev: Output) -> dict[str, Any]:
    d: dict[str, Any] = {"seq": ev.seq, "stream": ev.stream, "chunk": b64(ev.chunk)}
    if process_id is not None:
        d = {"processId": process_id, **d}
    return d


def encode_read_result(r: ReadResult) -> dict[str, Any]:
    return {
        "chunks": [encode_chunk(None, c) for c in r.chunks],
        "nextSeq": r.next_seq,
        "exited": r.exited,
        "exitCode": r.exit_code,
        "closed": r.closed,
        "failure": r.failure,
    }


def decode_read_result(result: Mapping[str, Any]) -> ReadResult:
    """For clients: a `process/read` result back into a ReadResult."""
    chunks = [Output(c["seq"], c["stream"], base64.b64decode(c["chunk"]))
              for c in result.get("chunks", [])]
    return ReadResult(chunks=chunks, next_seq=result["nextSeq"], exited=result["exited"],
                      exit_code=result.get("exitCode"), closed=result["closed"],
                      failure=result.get("failure"))


def output_notification_text(process_id: str, ev: Output) -> str:
    """`process/output` as JSON text, built directly: the base64 chunk is ASCII by
    construction, and skipping the encoder's scan of it is most of the cost of a big chunk.
    Equal to `encode(event_notification(process_id, ev))` after parsing."""
    return ('{"jsonrpc":"2.0","method":"process/output","params":{"processId":'
            f'{json.dumps(process_id)},"seq":{ev.seq},'
            f'"stream":{json.dumps(ev.stream)},"chunk":"{b64(ev.chunk)}"}}}}')


def event_notification(process_id: str, ev: Output | Exited | Closed) -> dict[str, Any]:
    if isinstance(ev, Output):
        return notification(PROCESS_OUTPUT, encode_chunk(process_id, ev))
    if isinstance(ev, Exited):
        return notification(PROCESS_EXITED,
                            {"processId": process_id, "seq": ev.seq, "exitCode": ev.exit_code})
    return notification(PROCESS_CLOSED, {"processId": process_id, "seq": ev.seq})


def decode_event(method: str, params: Mapping[str, Any]) -> Output | Exited | Closed | None:
    """For clients: a process notification back into an event (None if not one of ours)."""
    if method == PROCESS_OUTPUT:
        return Output(params["seq"], params["stream"], base64.b64decode(params["chunk"]))
    if method == PROCESS_EXITED:
        return Exited(params["seq"], params["exitCode"])
    if method == PROCESS_CLOSED:
        return Closed(params["seq"])
    return None


def start_params_to_wire(p: StartParams) -> dict[str, Any]:
    """For clients: StartParams as `process/start` params."""
    d: dict[str, Any] = {"processId": p.process_id, "argv": list(p.argv), "cwd": p.cwd,
                         "env": dict(p.env), "tty": p.tty, "pipeStdin": p.pipe_stdin,
                         "arg0": p.arg0}
    if p.sandbox is not None:
        d["sandbox"] = dict(p.sandbox)
    return d
