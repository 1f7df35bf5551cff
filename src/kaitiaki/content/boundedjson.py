"""JSON from outside, read within bounds: every reader of untrusted JSON goes through here.

Why not a streaming parser's C backend on its own: ijson's yajl2_c crashed the whole process
(SIGSEGV) on a 5,001-digit integer (CPython refuses to convert more than 4,300 digits and the
backend does not check), and 100,000 nested ``[`` made it build ever longer path prefixes until
memory ran out. A parser of hostile input must refuse such documents with a position and a
reason, in-process, and never crash.

So a document is read in two layers:

* a **scanner** that moves through the bytes at bracket granularity: one regular expression
  (possessive, so it cannot backtrack) consumes whole runs of strings, numbers and punctuation
  between brackets, and Python code runs only per ``[ ] { }``. It enforces the bounds
  (nesting depth, number length, string length, record size), checks the brackets pair up
  and that the structure around the records is well formed, and finds each record's bytes;
* CPython's own ``json`` module, which parses one record at a time: its C scanner is part of
  the interpreter and checks recursion; numbers are bounded as they are converted.

The common case takes a fast path (``_Scanner.whole``): json's scanner parses the record
straight from the read buffer, seen as Latin-1 so that its positions are byte offsets, and the
bounds are checked on the result; any record that fails it (incomplete in the buffer,
malformed, maybe out of bounds) goes through the scanner bracket by bracket, which names the
exact position. Either way json only ever sees bytes already in the buffer, whose size the
scanner bounds, and no conversion it makes can exceed a bound.

Memory stays bounded by the largest record plus one read block, so multi-GB national sets
stream. Errors are ``BoundedJsonError``: the byte offset, the record (1-based) where known,
and the reason.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

_CHUNK = 256 << 10  # per read; the buffer holds about this plus the open record
ANY_ITEM = "*"  # in a record path: every item of an array


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """Bounds for one document. Generous for real data, small enough to stay safe.

    ``max_number_chars`` stays below CPython's 4,300-digit conversion limit and ``max_depth``
    far below its recursion limit, so the ``json`` module can never fail on them.
    """

    max_depth: int = 64
    max_number_chars: int = 100
    max_string_bytes: int = 1 << 20
    max_record_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= 200:
            raise ValueError("max_depth must be between 1 and 200")
        if not 1 <= self.max_number_chars <= 4000:
            raise ValueError("max_number_chars must be between 1 and 4000")
        if self.max_string_bytes < 1 or self.max_record_bytes < 2:
            raise ValueError("string and record bounds must be positive")


DEFAULT_LIMITS = JsonLimits()


class BoundedJsonError(ValueError):
    """The document is refused: ``offset`` (bytes from its start), the record, the reason."""

    def __init__(self, offset: int, reason: str, *, record: int | None = None) -> None:
        self.offset = offset
        self.reason = reason
        self.record = record
        where = f"record #{record}, " if record is not None else ""
        super().__init__(f"{where}byte offset {offset}: {reason}")


@dataclass(frozen=True, slots=True)
class Record:
    value: Any
    index: int  # 1-based, in document order
    offset: int  # of its first byte


# Everything between two brackets: runs of non-special bytes and whole strings.
_FLAT = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")++', re.DOTALL)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
# Between two records of one array: the comma, and the next record's opening bracket ahead.
_NEXT = re.compile(r"[ \t\r\n]*+,[ \t\r\n]*+(?=[\[{])")
# Outside records: one token at a time (string, punctuation, or a bare number/literal).
_TOKEN = re.compile(rb'[ \t\r\n]*+(?:("(?:[^"\\]++|\\.)*+")|([,:])|([^ \t\r\n,:"]++))', re.DOTALL)
_SPACE = re.compile(rb"[ \t\r\n]*+")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_PAIR = {ord("]"): ord("["), ord("}"): ord("{")}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Frame:
    """One open container: its bracket, its path, and where its grammar stands."""

    __slots__ = ("bracket", "expect", "key", "offset", "path")

    def __init__(self, bracket: int, path: tuple[str, ...], offset: int) -> None:
        self.bracket = bracket
        self.path = path
        self.offset = offset
        # Object: "key" -> ":" -> "value" -> "," -> "key" ...; array: "value" -> "," -> ...
        self.expect = "first"
        self.key: str | None = None


class _Scanner:
    """Walks a stream: brackets one by one, everything between them as one checked span."""

    def __init__(self, stream: Readable, limits: JsonLimits, base: int) -> None:
        self.stream = stream
        self.limits = limits
        self.buf = b""
        self.text = ""  # the same bytes as Latin-1 text, for json's scanner
        self.start = base  # offset of buf[0]
        self.keep = 0  # buf[keep:] must survive the next read (an open record)
        self.eof = False
        self._numberish = re.compile(rb"[-+0-9.eE]{%d}" % (limits.max_number_chars + 1))
        self.record: int | None = None
        self.resume: int | None = None  # set by the reader after it consumed a whole record

    def whole(self, start: int, depth: int, decoder: _Decoder) -> tuple[Any, int] | None:
        """The record opening at ``start`` and its end, if it parses within bounds at once.

        The fast path: json's C scanner over the buffer read as Latin-1 (one character per
        byte, so its positions are byte offsets) finds the record's end and parses it in one
        step; a record with non-ASCII bytes is parsed again from its UTF-8. None sends the
        record down the bracket-by-bracket path: it is incomplete in the buffer, malformed, or
        may break a bound, and that path says exactly where.
        """
        text = self.text
        try:
            value, end = decoder.raw(text, start)
        except (ValueError, RecursionError):
            return None
        limits = self.limits
        size = end - start
        if size > limits.max_record_bytes or size > limits.max_string_bytes + 2:
            return None
        buf = self.buf
        if depth + buf.count(b"[", start, end) + buf.count(b"{", start, end) > limits.max_depth:
            return None
        raw = buf[start:end]
        if not raw.isascii():
            value = decoder.parse(raw, self.start + start, self.record)
        return value, end

    def error(self, index: int, reason: str) -> BoundedJsonError:
        return BoundedJsonError(self.start + index, reason, record=self.record)

    def _fill(self, pos: int) -> int:
        """Read more; drop what is no longer needed. Returns ``pos`` in the new buffer."""
        drop = min(pos, self.keep)
        # Grows with what is pending, so re-scanning a long span stays linear overall.
        data = self.stream.read(max(_CHUNK, len(self.buf) - drop))
        if not data:
            self.eof = True
        self.buf = self.buf[drop:] + data
        self.text = self.text[drop:] + data.decode("latin-1")
        self.start += drop
        self.keep -= drop
        return pos - drop

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """(byte, start, end) in buffer indices: byte 0 for a span, else the bracket."""
        pos = 0
        limits = self.limits
        while True:
            match = _FLAT.match(self.buf, pos)
            end = match.end() if match else pos
            if end == len(self.buf) or self.buf[end] == 0x22:  # may go on in the next block
                if not self.eof:
                    if (
                        self.record is not None
                        and len(self.buf) - self.keep > limits.max_record_bytes
                    ):
                        raise self.error(
                            self.keep, f"a record larger than {limits.max_record_bytes} bytes"
                        )
                    if end - pos > limits.max_record_bytes:
                        raise self.error(
                            pos, f"more than {limits.max_record_bytes} bytes without a bracket"
                        )
                    if len(self.buf) - end > limits.max_string_bytes + 2:
                        raise self.error(
                            end, f"a string longer than {limits.max_string_bytes} bytes"
                        )
                    pos = self._fill(pos)
                    continue
                if end < len(self.buf):
                    raise self.error(len(self.buf), "the document ends inside a string")
            if end > pos:
                self._check(pos, end)
                yield 0, pos, end
            if end == len(self.buf):
                return
            yield self.buf[end], end, end + 1
            pos, self.resume = (end + 1, None) if self.resume is None else (self.resume, None)

    def _check(self, pos: int, end: int) -> None:
        """Bounds inside one span; the precise (slow) walk only when a bound may be broken."""
        limits = self.limits
        size = end - pos
        if size > limits.max_record_bytes:
            raise self.error(pos, f"more than {limits.max_record_bytes} bytes without a bracket")
        # Numbers are bounded as they are converted (``_Decoder``); only a span that could
        # hold an over-long string is walked here, looking at numbers on the way.
        if size <= limits.max_string_bytes + 2:
            return
        at = pos
        while at < end:
            string = _STRING.search(self.buf, at, end)
            stop = string.start() if string else end
            number = self._numberish.search(self.buf, at, stop)
            if number:
                first = number.start()
                while first > at and self.buf[first - 1] in b"-+0123456789.eE":
                    first -= 1
                raise self.error(
                    first, f"a number longer than {limits.max_number_chars} characters"
                )
            if string is None:
                return
            if string.end() - string.start() - 2 > limits.max_string_bytes:
                raise self.error(
                    string.start(), f"a string longer than {limits.max_string_bytes} bytes"
                )
            at = string.end()


def iter_records(
    stream: Readable,
    path: Sequence[str],
    limits: JsonLimits = DEFAULT_LIMITS,
    *,
    base: int = 0,
) -> Iterator[Record]:
    """Each value at ``path`` (keys, ``ANY_ITEM`` for array items), parsed, in file order.

    ``("value", ANY_ITEM)`` gives the items of the top-level ``value`` array. Records must be
    objects or arrays. The whole document is checked, records or not; ``base`` is the offset
    of the stream's first byte in the file (past a byte-order mark).
    """
    target = tuple(path)
    if not target or target[-1] != ANY_ITEM:
        raise ValueError("a record path ends in ANY_ITEM")
    scanner = _Scanner(stream, limits, base)
    decoder = _Decoder(limits)
    stack: list[_Frame] = []
    record_at: int | None = None  # offset in the file where the open record began
    record_depth = 0
    count = 0
    done = False
    for byte, start, end in scanner.spans():
        if record_at is not None:  # inside a record: only brackets matter here
            if byte == 0:
                continue
            if byte in _OPEN:
                record_depth += 1
                if len(stack) + record_depth > limits.max_depth:
                    raise scanner.error(start, f"nesting deeper than {limits.max_depth}")
                continue
            record_depth -= 1
            if record_depth:
                continue
            if scanner.start + end - record_at > limits.max_record_bytes:
                raise scanner.error(
                    record_at - scanner.start,
                    f"a record larger than {limits.max_record_bytes} bytes",
                )
            raw = scanner.buf[record_at - scanner.start : end]
            yield Record(decoder.parse(raw, record_at, count), count, record_at)
            scanner.record, record_at = None, None
            scanner.keep = end
            _value_done(scanner, stack[-1], start)
            continue
        if done:
            if byte != 0 or _SPACE.fullmatch(scanner.buf, start, end) is None:
                raise scanner.error(start, "more data after the end of the document")
            continue
        if byte == 0:
            here = bool(stack) and (*stack[-1].path, ANY_ITEM) == target
            _outside(scanner, stack, start, end, records_here=here)
            continue
        if byte in _OPEN:
            if stack:
                frame = stack[-1]
                _expect_value(scanner, frame, start)
                child = (*frame.path, (frame.key or "") if frame.bracket == 0x7B else ANY_ITEM)
            else:
                child = ()
            if child == target:
                count += 1
                scanner.record = count
                fast = scanner.whole(start, len(stack), decoder)
                if fast is not None:
                    _value_done(scanner, frame, start)
                    # The common case, record after record of one array, without a step per
                    # bracket; anything else goes back to the walk just after the last record.
                    while fast is not None:
                        yield Record(fast[0], count, scanner.start + start)
                        scanner.keep = scanner.resume = end_of_last = fast[1]
                        follows = _NEXT.match(scanner.text, end_of_last)
                        if follows is None:
                            break
                        start = follows.end()
                        scanner.record = count + 1
                        fast = scanner.whole(start, len(stack), decoder)
                        if fast is not None:
                            count += 1
                    scanner.record = None
                    continue
                scanner.record, record_at, record_depth = count, scanner.start + start, 1
                scanner.keep = start
                if len(stack) + 1 > limits.max_depth:
                    raise scanner.error(start, f"nesting deeper than {limits.max_depth}")
                continue
            if len(stack) + 1 > limits.max_depth:
                raise scanner.error(start, f"nesting deeper than {limits.max_depth}")
            stack.append(_Frame(byte, child, scanner.start + start))
            scanner.keep = end
            continue
        if not stack or stack[-1].bracket != _PAIR[byte]:
            raise scanner.error(start, f"{chr(byte)!r} closes nothing that is open")
        frame = stack.pop()
        if frame.expect not in ("first", "comma"):
            raise scanner.error(start, f"{chr(byte)!r} where {_WANTS[frame.expect]} belongs")
        if stack:
            _value_done(scanner, stack[-1], start)
        else:
            done = True
    if record_at is not None or stack:
        raise scanner.error(len(scanner.buf), "the document ends before it is complete")
    if not done:
        raise scanner.error(len(scanner.buf), "no JSON object or array")


_WANTS = {
    "first": "'{' or '['",
    "key": "a key",
    "colon": "':'",
    "value": "a value",
    "comma": "',' or the end",
}


def _expect_value(scanner: _Scanner, frame: _Frame, at: int) -> None:
    if frame.expect == "value" or (frame.expect == "first" and frame.bracket == 0x5B):
        return
    raise scanner.error(
        at, f"a value where {_WANTS[frame.expect if frame.expect != 'first' else 'key']} belongs"
    )


def _value_done(scanner: _Scanner, frame: _Frame, at: int) -> None:
    frame.expect = "comma"


def _outside(
    scanner: _Scanner,
    stack: list[_Frame],
    start: int,
    end: int,
    members: dict[str, Any] | None = None,
    *,
    records_here: bool = False,
) -> None:
    """Check the grammar of a span outside records, token by token (headers are small)."""
    buf = scanner.buf
    if not stack:
        if _SPACE.fullmatch(buf, start, end) is None:
            raise scanner.error(start, "not a JSON object or array")
        return
    frame = stack[-1]
    at = start
    while True:
        space = _SPACE.match(buf, at, end)
        at = space.end() if space else at
        if at >= end:
            return
        token = _TOKEN.match(buf, at, end)
        if token is None:  # cannot happen: every byte starts some token
            raise scanner.error(at, "unexpected byte")
        string, punct, bare = token.groups()
        first = token.start(token.lastindex or 0)
        state = frame.expect
        if punct == b",":
            if state != "comma":
                raise scanner.error(first, f"',' where {_WANTS[state]} belongs")
            frame.expect = "key" if frame.bracket == 0x7B else "value"
        elif punct == b":":
            if state != "colon":
                raise scanner.error(first, f"':' where {_WANTS[state]} belongs")
            frame.expect = "value"
        elif frame.bracket == 0x7B and state in ("first", "key"):
            if string is None:
                raise scanner.error(first, "an object key must be a string")
            frame.key = _scalar(scanner, string, first)
            frame.expect = "colon"
        elif state == "value" or (state == "first" and frame.bracket == 0x5B):
            raw = string if string is not None else bare
            if records_here:
                raise scanner.error(first, f"a record must be a JSON object, not {_short(raw)}")
            value = _scalar(scanner, raw, first)
            if members is not None and frame.key is not None:
                members[frame.key] = value
            frame.expect = "comma"
        else:
            raise scanner.error(first, f"a value where {_WANTS[state]} belongs")
        at = token.end()


def _scalar(scanner: _Scanner, raw: bytes, at: int) -> Any:
    if raw[:1] != b'"' and len(raw) > scanner.limits.max_number_chars:
        raise scanner.error(
            at, f"a number longer than {scanner.limits.max_number_chars} characters"
        )
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise scanner.error(at, f"not a JSON value: {_short(raw)} ({_reason(exc)})") from None


class _NumberTooLongError(ValueError):
    pass


class _Decoder:
    """CPython's json with numbers bounded as they are converted, and no NaN or Infinity."""

    def __init__(self, limits: JsonLimits) -> None:
        self.limits = limits
        most = limits.max_number_chars

        def parse_int(text: str) -> int:
            if len(text) > most:
                raise _NumberTooLongError(text)
            return int(text)

        def parse_float(text: str) -> float:
            if len(text) > most:
                raise _NumberTooLongError(text)
            return float(text)

        self._decoder = json.JSONDecoder(
            parse_int=parse_int, parse_float=parse_float, parse_constant=_refuse_constant
        )
        self.raw = self._decoder.raw_decode

    def parse(self, raw: bytes, offset: int, index: int | None) -> Any:
        """One record's bytes (bounded already) as Python values; errors placed in the file."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BoundedJsonError(offset + exc.start, "not UTF-8 text", record=index) from None
        try:
            return self._decoder.decode(text)
        except json.JSONDecodeError as exc:
            at = offset + len(text[: exc.pos].encode("utf-8", "surrogatepass"))
            raise BoundedJsonError(at, f"invalid JSON: {exc.msg}", record=index) from None
        except _NumberTooLongError as exc:
            found = raw.find(str(exc).encode("ascii", "replace"))
            raise BoundedJsonError(
                offset + max(found, 0),
                f"a number longer than {self.limits.max_number_chars} characters",
                record=index,
            ) from None
        except ValueError as exc:
            raise BoundedJsonError(offset, f"invalid JSON: {exc}", record=index) from None


def _short(raw: bytes) -> str:
    text = raw[:40].decode("utf-8", "replace")
    return repr(text + ("..." if len(raw) > 40 else ""))


def _reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split("\n")[0]


def read_head(
    stream: Readable, stop_key: str, limits: JsonLimits = DEFAULT_LIMITS, *, base: int = 0
) -> tuple[dict[str, Any], bool]:
    """The top-level object's scalar members before ``stop_key``, and whether it was found.

    For headers that come before a document's records (VICS: the data model before
    ``value``). Members that are objects or arrays are skipped, within the same bounds.
    """
    scanner = _Scanner(stream, limits, base)
    stack: list[_Frame] = []
    members: dict[str, Any] = {}
    for byte, start, end in scanner.spans():
        scanner.keep = start
        if byte == 0:
            if not stack and _SPACE.fullmatch(scanner.buf, start, end) is None:
                raise scanner.error(start, "not a JSON object")
            if len(stack) == 1:
                _outside(scanner, stack, start, end, members)
                if stack[0].key == stop_key and stack[0].expect in ("value", "comma"):
                    return members, True
            continue
        if byte in _OPEN:
            if not stack and byte != 0x7B:
                raise scanner.error(start, "not a JSON object")
            if len(stack) + 1 > limits.max_depth:
                raise scanner.error(start, f"nesting deeper than {limits.max_depth}")
            if len(stack) == 1:
                _expect_value(scanner, stack[0], start)
                if stack[0].key == stop_key:
                    return members, True
            stack.append(_Frame(byte, (), scanner.start + start))
            stack[-1].expect = "first" if len(stack) == 1 else "skip"
            continue
        if not stack or stack[-1].bracket != _PAIR[byte]:
            raise scanner.error(start, f"{chr(byte)!r} closes nothing that is open")
        frame = stack.pop()
        if len(stack) == 1:
            stack[0].expect = "comma"
        if not stack:
            if frame.expect not in ("first", "comma"):
                raise scanner.error(start, f"{chr(byte)!r} where {_WANTS[frame.expect]} belongs")
            return members, False
    raise scanner.error(len(scanner.buf), "the document ends before it is complete")


def check(stream: Readable, limits: JsonLimits = DEFAULT_LIMITS, *, base: int = 0) -> None:
    """Walk a whole document within ``limits`` without keeping it (raises BoundedJsonError)."""
    scanner = _Scanner(stream, limits, base)
    depth = 0
    opened: list[int] = []
    for byte, start, _end in scanner.spans():
        scanner.keep = start
        if byte in _OPEN:
            depth += 1
            if depth > limits.max_depth:
                raise scanner.error(start, f"nesting deeper than {limits.max_depth}")
            opened.append(byte)
        elif byte in _CLOSE:
            if not opened or opened.pop() != _PAIR[byte]:
                raise scanner.error(start, f"{chr(byte)!r} closes nothing that is open")
            depth -= 1


def loads(data: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """A small document (a manifest, a package, an outcome file) parsed within ``limits``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if len(raw) > limits.max_record_bytes:
        raise BoundedJsonError(0, f"a document larger than {limits.max_record_bytes} bytes")
    check(io.BytesIO(raw), limits)
    return _Decoder(limits).parse(raw, 0, None)
