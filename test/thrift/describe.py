#!/usr/bin/python3
"""Splits a recorded Thrift byte stream into messages with python3-thrift's own readers (an
oracle independent of MetaProto's codec), and prints them as a table or JSON.

  describe.py --variant buffered|framed|header [--json] FILE...
  describe.py --variant V --fixture PREFIX --client-log FILE
      writes PREFIX.json: the variant, the client's OBSERVED lines (what it saw per call), and
      the messages of PREFIX.request.bin and PREFIX.response.bin (the codec tests' oracle).

buffered: unframed binary (strict or not), compact or JSON messages back to back; framed: 4-byte
length + message; header: THeader frames (read by python3-thrift's THeaderTransport, which
also undoes zlib transforms). The protocol (binary/compact/JSON) is told by each message's first byte,
as python3-thrift's own THeader server does.

Per message: offset, length, name, type, seqid; for THeader the info headers and transforms;
for REPLY the id of the result struct's field that is set (0 = success, 1+ = declared
exception, none = void success); for EXCEPTION the TApplicationException type.
"""
import argparse
import json
import struct
import sys

from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.protocol.TJSONProtocol import TJSONProtocol
from thrift.transport.THeaderTransport import THeaderClientType, THeaderSubprotocolID, THeaderTransport
from thrift.transport.TTransport import TMemoryBuffer

TYPES = {TMessageType.CALL: "call", TMessageType.REPLY: "reply", TMessageType.EXCEPTION: "exception", TMessageType.ONEWAY: "oneway"}


def protocol_for(transport, first_byte):
    if first_byte == 0x82:
        return TCompactProtocol(transport)
    if first_byte == ord("["):
        return TJSONProtocol(transport)
    return TBinaryProtocol(transport)


def skip(protocol, ttype):
    """TProtocolBase.skip, but binary-safe: its STRING case decodes UTF-8 and fails on blobs.
    (A JSON string is text either way; reading it as base64 would fail on text.)"""
    if ttype == TType.STRING and isinstance(protocol, TJSONProtocol):
        protocol.readString()
    elif ttype == TType.STRING:
        protocol.readBinary()
    elif ttype == TType.STRUCT:
        protocol.readStructBegin()
        while True:
            _, ftype, _ = protocol.readFieldBegin()
            if ftype == TType.STOP:
                break
            skip(protocol, ftype)
            protocol.readFieldEnd()
        protocol.readStructEnd()
    elif ttype == TType.MAP:
        ktype, vtype, size = protocol.readMapBegin()
        for _ in range(size):
            skip(protocol, ktype)
            skip(protocol, vtype)
        protocol.readMapEnd()
    elif ttype in (TType.SET, TType.LIST):
        etype, size = protocol.readListBegin() if ttype == TType.LIST else protocol.readSetBegin()
        for _ in range(size):
            skip(protocol, etype)
        if ttype == TType.LIST:
            protocol.readListEnd()
        else:
            protocol.readSetEnd()
    else:
        protocol.skip(ttype)


def read_message(protocol):
    """Reads one message from `protocol`; returns its description."""
    name, mtype, seqid = protocol.readMessageBegin()
    if isinstance(name, bytes):  # python3-thrift 0.17 keeps non-strict names as bytes
        name = name.decode("utf-8", "replace")
    out = {"name": name, "type": TYPES.get(mtype, str(mtype)), "seqid": seqid}
    if mtype == TMessageType.REPLY:
        protocol.readStructBegin()
        _, ftype, fid = protocol.readFieldBegin()
        out["result_field"] = None if ftype == TType.STOP else fid
        while ftype != TType.STOP:
            skip(protocol, ftype)
            protocol.readFieldEnd()
            _, ftype, fid = protocol.readFieldBegin()
        protocol.readStructEnd()
    elif mtype == TMessageType.EXCEPTION:
        exception = TApplicationException()
        exception.read(protocol)
        out["app_exception_type"] = exception.type
        out["app_exception_message"] = exception.message
    else:
        skip(protocol, TType.STRUCT)
    protocol.readMessageEnd()
    return out


def describe(data, variant):
    messages = []
    buffer = TMemoryBuffer(data)
    at = 0
    while at < len(data):
        if variant == "buffered":
            message = read_message(protocol_for(buffer, data[at]))
        elif variant == "framed":
            (length,) = struct.unpack_from("!i", data, at)
            frame = data[at + 4:at + 4 + length]
            inner = TMemoryBuffer(frame)
            message = read_message(protocol_for(inner, frame[0]))
            if inner._buffer.tell() != length:
                raise SystemExit(f"framed message at {at} ends at {inner._buffer.tell()} of its {length}-byte frame")
            buffer._buffer.seek(at + 4 + length)
        else:
            header = THeaderTransport(buffer, (THeaderClientType.HEADERS,))
            header.readFrame(0)
            transforms = []
            (words,) = struct.unpack_from("!H", data, at + 12)
            sub = THeaderSubprotocolID.COMPACT if header.protocol_id == THeaderSubprotocolID.COMPACT else THeaderSubprotocolID.BINARY
            protocol = TCompactProtocol(header) if sub == THeaderSubprotocolID.COMPACT else TBinaryProtocol(header)
            # The transform ids sit after the protocol id and the transform count (varints < 128 here).
            count = data[at + 15]
            transforms = list(data[at + 16:at + 16 + count])
            message = read_message(protocol)
            message["headers"] = {k.decode(): v.decode() for k, v in header.get_headers().items()}
            message["protocol_id"] = header.protocol_id
            message["transforms"] = transforms
            message["header_words"] = words
        end = buffer._buffer.tell()
        message = {"offset": at, "length": end - at, **message}
        messages.append(message)
        at = end
    return messages


def write_fixture_description(prefix, variant, client_log):
    with open(client_log) as f:
        observed = [line.strip() for line in f if line.startswith("OBSERVED ")]
    out = {"variant": variant, "client_observed": observed}
    for direction in ("request", "response"):
        with open(f"{prefix}.{direction}.bin", "rb") as f:
            out[direction] = describe(f.read(), variant)
    with open(f"{prefix}.json", "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=["buffered", "framed", "header"], required=True)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fixture", help="PREFIX of PREFIX.request.bin / PREFIX.response.bin")
    ap.add_argument("--client-log", help="the client's output (its OBSERVED lines)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.fixture:
        write_fixture_description(args.fixture, args.variant, args.client_log)
        return
    described = {}
    for path in args.files:
        with open(path, "rb") as f:
            described[path] = describe(f.read(), args.variant)
    if args.json:
        json.dump(described, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return
    for path, messages in described.items():
        total = sum(m["length"] for m in messages)
        print(f"#### `{path.split('/')[-1]}` ({total} bytes, {len(messages)} messages, {args.variant})\n")
        print("| offset | length | type | seqid | name | detail |")
        print("|---:|---:|---|---:|---|---|")
        for m in messages:
            detail = []
            if "result_field" in m:
                detail.append("void success" if m["result_field"] is None else f"result field {m['result_field']}")
            if "app_exception_type" in m:
                detail.append(f"TApplicationException type {m['app_exception_type']}")
            if m.get("headers"):
                detail.append("headers " + ", ".join(f"{k}={v}" for k, v in m["headers"].items()))
            if m.get("transforms"):
                detail.append("transforms " + ",".join(map(str, m["transforms"])))
            if "protocol_id" in m:
                detail.append("compact" if m["protocol_id"] == 2 else "binary")
            print(f"| {m['offset']} | {m['length']} | {m['type']} | {m['seqid']} | {m['name']} | {'; '.join(detail)} |")
        print()


if __name__ == "__main__":
    main()
