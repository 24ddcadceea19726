"""exec-server wire format, shared by the server and the remote client: the JSON-RPC envelope
in both dialects, method names, error codes, param decoders and result/notification codecs.

Pure data: nothing here does I/O or needs an event loop. Field names are camelCase on the wire
and snake_case in Python. Spec: `specs/exec-server.md`; the newest Codex dialect is its last
section.

Two dialects share one connection model (spec "The newest Codex dialect"):

- `Dialect.LEGACY` (our first one): every message carries `"jsonrpc": "2.0"`; `cwd` is a
  native path; `process/signal` takes POSIX names and answers `{delivered}`; writes carry no
  `writeId`.
- `Dialect.CODEX`: no `"jsonrpc"` member; `cwd` and every `fs/*` path are PathUris; writes
  carry a `writeId`; `process/signal {signal: "interrupt"}` answers `{}`; `initialize` may
  resume a session; `process/start` takes `envPolicy`, `metadata` and returns `sandboxType`;
  `process/exited` and `process/read` carry `sandboxDenied`.

A request's dialect is its envelope's (with or without `"jsonrpc"`); the server answers each
request in that form. Our extensions, in both dialects: `process/signal` with POSIX names,
`process/start.sandbox` as our policy dict, and output acknowledgements (`outputAcks` in
`initialize`, then the client notification `process/ack {processId, seq}`), which let a
resumed session replay everything the client had not yet received.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codex.exec_server import path_uri
from codex.exec_server.backend import Closed, Exited, Output, ReadResult, StartParams

JSONRPC_VERSION = "2.0"


class Dialect(enum.Enum):
    """Which of the two wire forms a message uses (module docstring)."""

    LEGACY = "legacy"
    CODEX = "codex"


# JSON-RPC error codes used by the spec.
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_FOUND = -32004  # fs/*: no such file
SESSION_ATTACHED = -32010  # Codex's server: the session is still attached elsewhere

# A frame we could not parse has no id we could echo.
PARSE_ERROR_ID = -1
PARSE_ERROR_PREFIX = "failed to parse JSON-RPC message"
# Deepest nesting of arrays/objects a frame may have. The interpreter's recursion limit must
# never decide this (it differs between a checkout and a frozen binary, and running into it
# used to end the connection); 128 is also what Codex's JSON parser allows.
MAX_NESTING = 128

INITIALIZE = "initialize"
INITIALIZED = "initialized"
PROCESS_START = "process/start"
PROCESS_READ = "process/read"
PROCESS_WRITE = "process/write"
PROCESS_TERMINATE = "process/terminate"
PROCESS_SIGNAL = "process/signal"
PROCESS_ACK = "process/ack"  # ours: client notification
PROCESS_OUTPUT = "process/output"
PROCESS_EXITED = "process/exited"
PROCESS_CLOSED = "process/closed"
ENVIRONMENT_INFO = "environment/info"
ENVIRONMENT_STATUS = "environment/status"
FS_READ_FILE = "fs/readFile"
FS_WRITE_FILE = "fs/writeFile"
FS_CREATE_DIRECTORY = "fs/createDirectory"
FS_GET_METADATA = "fs/getMetadata"
FS_READ_DIRECTORY = "fs/readDirectory"
FS_REMOVE = "fs/remove"
FS_COPY = "fs/copy"
FS_CANONICALIZE = "fs/canonicalize"

# Signals `process/signal` may send, by wire name: POSIX names (ours) and Codex's names.
SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGWINCH")
CODEX_SIGNALS = {"interrupt": "SIGINT"}

# Messages of the handshake rules (spec "Handshake").
MSG_INITIALIZE_TWICE = "initialize may only be sent once per connection"
MSG_NOT_INITIALIZED = "client must call initialize before using exec methods"
MSG_NOT_INITIALIZED_NOTIFIED = "client must send initialized before using exec methods"
MSG_EMPTY_ARGV = "argv must not be empty"
MSG_EMPTY_WRITE_ID = "writeId must not be empty"


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
    dialect: Dialect = field(default=Dialect.LEGACY, compare=False)


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: dict[str, Any]
    dialect: Dialect = field(default=Dialect.LEGACY, compare=False)


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


# Strings (whose brackets do not nest) and the brackets that do.
_TOKENS_STR = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')
_TOKENS_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


def _too_deep(frame: str | bytes | bytearray, limit: int = MAX_NESTING) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit`, found without
    recursion; cheap for ordinary frames (fewer opening brackets than `limit`: no scan)."""
    if isinstance(frame, str):
        opens = frame.count("[") + frame.count("{")
        tokens = _TOKENS_STR
        open_marks: tuple = ("[", "{")
    else:
        opens = frame.count(b"[") + frame.count(b"{")
        tokens = _TOKENS_BYTES
        open_marks = (b"[", b"{")
    if opens <= limit:
        return False
    depth = 0
    for m in tokens.finditer(frame):
        token = m.group()
        if token in open_marks:
            depth += 1
            if depth > limit:
                return True
        elif len(token) == 1:
            depth -= 1
    return False


def _nests_deeper(obj: Any, limit: int = MAX_NESTING) -> bool:
    """Whether a parsed value nests deeper than `limit` (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return False


def loads(frame: str | bytes | bytearray) -> Any:
    """JSON text -> value, with every failure (bad text, bad UTF-8, nesting deeper than
    MAX_NESTING, numbers too long to convert) as a ParseError.

    The verdict on depth never depends on the interpreter's recursion limit (it differs
    between a checkout and a frozen build): a value that parses is checked without
    recursion; when the parser runs out of recursion, a scan of the text (also without
    recursion) decides, and a value it finds shallow enough is parsed with more headroom."""
    try:
        obj = json.loads(frame)
    except RecursionError:
        if _too_deep(frame):
            raise ParseError(f"nesting deeper than {MAX_NESTING} levels") from None
        obj = _loads_with_headroom(frame)
    except (ValueError, UnicodeDecodeError, MemoryError) as e:
        raise ParseError(str(e)) from None
    if isinstance(obj, dict | list) and _nests_deeper(obj):
        raise ParseError(f"nesting deeper than {MAX_NESTING} levels")
    return obj


def _loads_with_headroom(frame: str | bytes | bytearray) -> Any:
    """Parse a value known to nest at most MAX_NESTING deep when the current recursion
    budget is too small for it (a deep call stack, a frozen runtime's parser)."""
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + 4 * MAX_NESTING)
    try:
        return json.loads(frame)
    except (ValueError, UnicodeDecodeError, MemoryError, RecursionError) as e:
        raise ParseError(str(e)) from None
    finally:
        sys.setrecursionlimit(old)


def parse_message(frame: str | bytes | bytearray | Mapping[str, Any]) -> Message:
    """Decode one frame/line into a message; raise ParseError for anything else."""
    obj = loads(frame) if isinstance(frame, str | bytes | bytearray) else frame
    if not isinstance(obj, dict):
        raise ParseError(f"expected a JSON object, got {type(obj).__name__}")
    if "jsonrpc" in obj and obj["jsonrpc"] != JSONRPC_VERSION:
        raise ParseError('"jsonrpc" must be "2.0"')
    dialect = Dialect.LEGACY if "jsonrpc" in obj else Dialect.CODEX
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
            return Request(obj["id"], method, params, dialect)
        return Notification(method, params, dialect)
    if "id" in obj and ("result" in obj or "error" in obj):
        if obj["id"] is not None and not _is_id(obj["id"]):
            raise ParseError('"id" must be an integer or a string')
        error = obj.get("error")
        if error is not None and not isinstance(error, dict):
            raise ParseError('"error" must be an object')
        return Response(obj["id"], obj.get("result"), error)
    raise ParseError("not a request, notification or response")


def encode(message: Mapping[str, Any] | str | bytes) -> str | bytes:
    """One message as compact JSON text (one frame / one line); text, or UTF-8 JSON already
    encoded as bytes, passes through (a transport sends bytes as a text frame as they are).

    ASCII-only: a client may send lone surrogates (valid JSON escapes, invalid UTF-8), and
    echoing one back in an id or process id must not make the frame unencodable."""
    if isinstance(message, str | bytes):
        return message
    return json.dumps(message, separators=(",", ":"))


def _envelope(dialect: Dialect) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION} if dialect is Dialect.LEGACY else {}


def request(id: RequestId, method: str, params: Mapping[str, Any] | None = None,
            dialect: Dialect = Dialect.LEGACY) -> dict:
    msg: dict[str, Any] = {**_envelope(dialect), "id": id, "method": method}
    if params is not None:
        msg["params"] = dict(params)
    return msg


def notification(method: str, params: Mapping[str, Any] | None = None,
                 dialect: Dialect = Dialect.LEGACY) -> dict:
    msg: dict[str, Any] = {**_envelope(dialect), "method": method}
    if params is not None:
        msg["params"] = dict(params)
    return msg


def result_response(id: RequestId, result: Any, dialect: Dialect = Dialect.LEGACY) -> dict:
    return {**_envelope(dialect), "id": id, "result": result}


def error_response(id: RequestId | None, error: ProtocolError,
                   dialect: Dialect = Dialect.LEGACY) -> dict:
    return {**_envelope(dialect), "id": id, "error": error.to_wire()}


@dataclass(frozen=True, slots=True)
class RawJson:
    """A result already encoded as UTF-8 JSON, in consecutive pieces (a 100 MB
    `fs/readFile` is built in a worker thread, block by block; joining or re-encoding it on
    the event loop would stall every other request and copy it twice more)."""

    parts: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Fragments:
    """One message as consecutive pieces of UTF-8 JSON: a websocket sends them as the
    fragments of one text message, stdio writes them one after the other on one line."""

    parts: tuple[bytes, ...]

    def joined(self) -> bytes:
        return b"".join(self.parts)


def result_response_fragments(id: RequestId, result: RawJson, dialect: Dialect) -> Fragments:
    head = b'{"jsonrpc":"2.0",' if dialect is Dialect.LEGACY else b"{"
    return Fragments((head + b'"id":' + json.dumps(id).encode() + b',"result":',
                      *result.parts, b"}"))


class _Base64:
    """The wire's base64, from `pybase64` (SIMD, ~5x the standard library's; loaded on first
    use, not at start-up) or else the standard library's C codec."""

    def __init__(self) -> None:
        self.encode = self._load_encode
        self.decode = self._load_decode

    def _load(self) -> None:
        try:
            import pybase64

            self.encode = pybase64.b64encode
            self.decode = lambda text: pybase64.b64decode(text, validate=True)
        except ImportError:
            self.encode = base64.b64encode
            self.decode = lambda text: binascii.a2b_base64(text, strict_mode=True)

    def _load_encode(self, data: bytes) -> bytes:
        self._load()
        return self.encode(data)

    def _load_decode(self, text: str | bytes) -> bytes:
        self._load()
        return self.decode(text)


_BASE64 = _Base64()


def b64encode(data: bytes) -> bytes:
    """Standard base64 with padding, as ASCII bytes."""
    return _BASE64.encode(data)


def b64decode_strict(text: str | bytes) -> bytes:
    """Standard base64 with padding, validated in C (`base64.b64decode(validate=True)`
    checks with a regex first, which costs seconds on 100 MB). ValueError if invalid
    (including non-ASCII text)."""
    try:
        return _BASE64.decode(text)
    except (binascii.Error, ValueError) as e:
        raise ValueError(str(e)) from None


# --- param decoding (server side) ----------------------------------------------------------

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


def _strings(params: Mapping[str, Any], name: str, *, required: bool = True) -> list[str]:
    value = _field(params, name, list, "an array of strings", required=required, default=[])
    if not all(isinstance(a, str) for a in value):
        raise _invalid(name, "must be an array of strings")
    return list(value)


def _string_map(params: Mapping[str, Any], name: str, *, required: bool = True
                ) -> dict[str, str]:
    value = _field(params, name, dict, "an object of strings", required=required, default={})
    if not all(isinstance(v, str) for v in value.values()):
        raise _invalid(name, "must be an object of strings")
    return dict(value)


def decode_path(params: Mapping[str, Any], name: str = "path") -> str:
    """A PathUri field -> native path; a native path is refused (-32602)."""
    value = _field(params, name, str, "a file:// URI")
    try:
        return path_uri.parse(value)
    except path_uri.InvalidPathUri as e:
        raise _invalid(name, f"is not a valid path URI: {e}") from None


@dataclass(frozen=True, slots=True)
class InitializeParams:
    client_name: str
    resume_session_id: str | None = None
    output_acks: bool = False


def decode_initialize(params: Mapping[str, Any]) -> InitializeParams:
    name = _field(params, "clientName", str, "a string")
    resume = _field(params, "resumeSessionId", str, "a string or null", required=False)
    acks = _field(params, "outputAcks", bool, "a boolean", required=False, default=False)
    return InitializeParams(name, resume, acks)


def decode_process_id(params: Mapping[str, Any]) -> str:
    return _field(params, "processId", str, "a string")


@dataclass(frozen=True, slots=True)
class EnvPolicy:
    """`envPolicy` of `process/start`: how the child's environment is built from the server's
    before `env` overlays it (the same steps as `shell_environment_policy`)."""

    inherit: str
    ignore_default_excludes: bool
    exclude: tuple[str, ...]
    set: Mapping[str, str]
    include_only: tuple[str, ...]

    def as_config(self) -> dict[str, Any]:
        """As a `shell_environment_policy` table (for `codex.child_env.apply_policy`)."""
        return {"inherit": self.inherit, "ignore_default_excludes": self.ignore_default_excludes,
                "exclude": list(self.exclude), "set": dict(self.set),
                "include_only": list(self.include_only)}

    def to_wire(self) -> dict[str, Any]:
        return {"inherit": self.inherit, "ignoreDefaultExcludes": self.ignore_default_excludes,
                "exclude": list(self.exclude), "set": dict(self.set),
                "includeOnly": list(self.include_only)}


ENV_INHERIT = ("all", "core", "none")


def decode_env_policy(value: Any) -> EnvPolicy:
    """All five fields are required, as Codex's server requires them."""
    if not isinstance(value, dict):
        raise _invalid("envPolicy", "must be an object")
    inherit = _field(value, "inherit", str, "one of all, core, none")
    if inherit not in ENV_INHERIT:
        raise _invalid("envPolicy.inherit", f"must be one of {', '.join(ENV_INHERIT)}")
    return EnvPolicy(
        inherit=inherit,
        ignore_default_excludes=_field(value, "ignoreDefaultExcludes", bool, "a boolean"),
        exclude=tuple(_strings(value, "exclude")),
        set=_string_map(value, "set"),
        include_only=tuple(_strings(value, "includeOnly")),
    )


def decode_metadata(value: Any) -> dict[str, str]:
    """`metadata {threadId, toolCallId}`: recorded, not interpreted; threadId is a UUID."""
    if not isinstance(value, dict):
        raise _invalid("metadata", "must be an object")
    out: dict[str, str] = {}
    thread_id = _field(value, "threadId", str, "a UUID string", required=False)
    if thread_id is not None:
        import uuid

        try:
            uuid.UUID(thread_id)
        except ValueError:
            raise _invalid("metadata.threadId", "must be a UUID") from None
        out["threadId"] = thread_id
    tool_call_id = _field(value, "toolCallId", str, "a string", required=False)
    if tool_call_id is not None:
        out["toolCallId"] = tool_call_id
    return out


@dataclass(frozen=True, slots=True)
class StartRequest:
    """`process/start` decoded: the backend's StartParams (env still without the policy) and
    what only the server needs."""

    params: StartParams
    env_policy: EnvPolicy | None = None


def decode_start(params: Mapping[str, Any]) -> StartParams:
    """`process/start` params -> StartParams (envPolicy, if any, not yet applied: see
    decode_start_request)."""
    return decode_start_request(params).params


def decode_start_request(params: Mapping[str, Any]) -> StartRequest:
    process_id = decode_process_id(params)
    argv = _strings(params, "argv")
    if not argv:
        raise ProtocolError(INVALID_PARAMS, MSG_EMPTY_ARGV)
    raw_cwd = _field(params, "cwd", str, "a string")
    if path_uri.is_path_uri(raw_cwd):
        cwd = decode_path(params, "cwd")
    elif raw_cwd.startswith("/") or (len(raw_cwd) > 2 and raw_cwd[1] == ":"):
        cwd = raw_cwd
    else:
        raise _invalid("cwd", "must be an absolute path or a file:// URI")
    env = _string_map(params, "env")
    if any(not k or "=" in k for k in env):
        # execve cannot pass such a name; without this the spawn fails as an internal error.
        raise _invalid("env", "names must be non-empty and must not contain '='")
    tty = _field(params, "tty", bool, "a boolean")
    pipe_stdin = _field(params, "pipeStdin", bool, "a boolean", required=False, default=False)
    arg0 = _field(params, "arg0", str, "a string or null", required=False)
    sandbox = _field(params, "sandbox", dict, "an object or null", required=False)
    policy_value = params.get("envPolicy")
    env_policy = None if policy_value is None else decode_env_policy(policy_value)
    metadata_value = params.get("metadata")
    metadata = None if metadata_value is None else decode_metadata(metadata_value)
    for s in (*argv, cwd, *env, *env.values(), arg0 or ""):
        if "\0" in s:
            raise _invalid("argv/cwd/env/arg0", "must not contain NUL characters")
    return StartRequest(
        StartParams(process_id=process_id, argv=argv, cwd=cwd, env=env, tty=tty,
                    pipe_stdin=pipe_stdin, arg0=arg0, sandbox=sandbox, metadata=metadata),
        env_policy)


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


@dataclass(frozen=True, slots=True)
class WriteParams:
    process_id: str
    data: bytes
    write_id: str | None  # None: our first dialect, no idempotency


def decode_write(params: Mapping[str, Any]) -> WriteParams:
    process_id = decode_process_id(params)
    chunk = _field(params, "chunk", str, "a base64 string")
    write_id = _field(params, "writeId", str, "a string", required=False)
    if write_id == "":
        raise ProtocolError(INVALID_PARAMS, MSG_EMPTY_WRITE_ID)
    try:
        data = b64decode_strict(chunk)
    except ValueError:
        raise _invalid("chunk", "is not valid base64") from None
    return WriteParams(process_id, data, write_id)


@dataclass(frozen=True, slots=True)
class SignalParams:
    process_id: str
    signal: str  # a POSIX name
    dialect: Dialect  # CODEX: `interrupt` was sent, answer `{}`


def decode_signal(params: Mapping[str, Any]) -> SignalParams:
    process_id = decode_process_id(params)
    sig = _field(params, "signal", str, "a string")
    if sig in CODEX_SIGNALS:
        return SignalParams(process_id, CODEX_SIGNALS[sig], Dialect.CODEX)
    if sig not in SIGNAL_NAMES:
        names = ", ".join((*CODEX_SIGNALS, *SIGNAL_NAMES))
        raise _invalid("signal", f"must be one of {names}")
    return SignalParams(process_id, sig, Dialect.LEGACY)


def decode_ack(params: Mapping[str, Any]) -> tuple[str, int]:
    process_id = decode_process_id(params)
    seq = _field(params, "seq", int, "an integer")
    return process_id, seq


# --- results and notifications ----------------------------------------------------------

def b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def encode_chunk(process_id: str | None, ev: Output) -> dict[str, Any]:
    d: dict[str, Any] = {"seq": ev.seq, "stream": ev.stream, "chunk": b64(ev.chunk)}
    if process_id is not None:
        d = {"processId": process_id, **d}
    return d


def encode_read_result(r: ReadResult, dialect: Dialect = Dialect.LEGACY) -> dict[str, Any]:
    out = {
        "chunks": [encode_chunk(None, c) for c in r.chunks],
        "nextSeq": r.next_seq,
        "exited": r.exited,
        "exitCode": r.exit_code,
        "closed": r.closed,
        "failure": r.failure,
    }
    if dialect is Dialect.CODEX:
        out["sandboxDenied"] = r.sandbox_denied
    return out


def _wire_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer, got {value!r}")
    return value


def decode_read_result(result: Mapping[str, Any]) -> ReadResult:
    """For clients: a `process/read` result back into a ReadResult. A missing `nextSeq` is
    an error, not 0 (ValueError naming the field)."""
    if not isinstance(result, Mapping):
        raise ValueError("process/read result must be an object")
    if "nextSeq" not in result:
        raise ValueError("process/read result lacks `nextSeq`")
    try:
        chunks = [Output(_wire_int(c["seq"], "seq"), str(c["stream"]),
                         b64decode_strict(c["chunk"]))
                  for c in result.get("chunks") or []]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed chunk in process/read result: {e}") from None
    exit_code = result.get("exitCode")
    return ReadResult(chunks=chunks, next_seq=_wire_int(result["nextSeq"], "nextSeq"),
                      exited=bool(result.get("exited")),
                      exit_code=None if exit_code is None else _wire_int(exit_code, "exitCode"),
                      closed=bool(result.get("closed")), failure=result.get("failure"),
                      sandbox_denied=bool(result.get("sandboxDenied")))


def output_notification_frame(process_id: str, ev: Output,
                              dialect: Dialect = Dialect.LEGACY) -> bytes:
    """`process/output` as UTF-8 JSON, built directly: the base64 chunk is ASCII by
    construction, and skipping the encoder's scan of it is most of the cost of a big chunk.
    Equal to `encode(event_notification(process_id, ev, dialect))` after parsing."""
    head = b'{"jsonrpc":"2.0",' if dialect is Dialect.LEGACY else b"{"
    return b"".join((head, b'"method":"process/output","params":{"processId":',
                     json.dumps(process_id).encode(), b',"seq":%d,"stream":' % ev.seq,
                     json.dumps(ev.stream).encode(), b',"chunk":"',
                     b64encode(ev.chunk), b'"}}'))


def event_notification(process_id: str, ev: Output | Exited | Closed,
                       dialect: Dialect = Dialect.LEGACY) -> dict[str, Any]:
    if isinstance(ev, Output):
        return notification(PROCESS_OUTPUT, encode_chunk(process_id, ev), dialect)
    if isinstance(ev, Exited):
        params: dict[str, Any] = {"processId": process_id, "seq": ev.seq,
                                  "exitCode": ev.exit_code}
        if dialect is Dialect.CODEX:
            params["sandboxDenied"] = ev.sandbox_denied
        return notification(PROCESS_EXITED, params, dialect)
    return notification(PROCESS_CLOSED, {"processId": process_id, "seq": ev.seq}, dialect)


def decode_event(method: str, params: Mapping[str, Any]) -> Output | Exited | Closed | None:
    """For clients: a process notification back into an event (None if not one of ours).
    Raises ValueError (or KeyError/TypeError) for a malformed one."""
    if method == PROCESS_OUTPUT:
        return Output(_wire_int(params["seq"], "seq"), str(params["stream"]),
                      b64decode_strict(params["chunk"]))
    if method == PROCESS_EXITED:
        return Exited(_wire_int(params["seq"], "seq"), _wire_int(params["exitCode"], "exitCode"),
                      bool(params.get("sandboxDenied")))
    if method == PROCESS_CLOSED:
        return Closed(_wire_int(params["seq"], "seq"))
    return None


# --- params (client side) -------------------------------------------------------------------

def start_params_to_wire(p: StartParams, dialect: Dialect = Dialect.LEGACY, *,
                         env_policy: EnvPolicy | None = None) -> dict[str, Any]:
    """For clients: StartParams as `process/start` params in `dialect`."""
    cwd = path_uri.from_path(p.cwd) if dialect is Dialect.CODEX else p.cwd
    d: dict[str, Any] = {"processId": p.process_id, "argv": list(p.argv), "cwd": cwd,
                         "env": dict(p.env), "tty": p.tty, "pipeStdin": p.pipe_stdin,
                         "arg0": p.arg0}
    if p.sandbox is not None:
        d["sandbox"] = dict(p.sandbox)
    if env_policy is not None:
        d["envPolicy"] = env_policy.to_wire()
    if p.metadata:
        d["metadata"] = dict(p.metadata)
    return d


def write_params_to_wire(process_id: str, data: bytes, write_id: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {"processId": process_id, "chunk": b64(data)}
    if write_id is not None:
        d["writeId"] = write_id
    return d


def read_params_to_wire(process_id: str, after_seq: int, max_bytes: int | None,
                        wait_ms: int) -> dict[str, Any]:
    return {"processId": process_id, "afterSeq": after_seq, "maxBytes": max_bytes,
            "waitMs": wait_ms}


def decode_write_status(result: Any) -> str:
    """For clients: the `status` of a `process/write` result (ValueError if absent)."""
    status = result.get("status") if isinstance(result, Mapping) else None
    if not isinstance(status, str):
        raise ValueError(f"process/write result lacks a status: {result!r}")
    return status
