"""A small reader of the protobuf wire format, and the few ONNX messages
`fastrnn.from_onnx` needs, so that importing a model needs no `onnx` or
`protobuf` package.

A message is a sequence of fields, each a key varint (field number << 3 |
wire type) followed by the value: a varint (0), 8 bytes (1), a
length-prefixed byte string (2: strings, bytes, sub-messages, packed arrays)
or 4 bytes (5). Messages are decoded against a schema that maps the field
numbers read here to a name and a kind; other fields are skipped, which is
what protobuf itself does with fields it does not know. The field numbers
are those of onnx/onnx.proto; ONNX never renumbers a field, so they hold for
every IR version.

Byte strings (a tensor's ``raw_data``) are memoryview slices of the file's
bytes: nothing large is copied until a tensor is actually used.
"""
import struct

import numpy as np

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class Malformed(Exception):
    """The bytes are not a well-formed message of the expected schema."""


def _varint(buf, pos, end):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise Malformed("a varint runs past the end of its message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise Malformed("a varint is longer than 10 bytes")


def _signed64(value):
    # int64 and int32 fields carry negative numbers as 64-bit two's complement.
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf, start, end):
    """(field number, wire type, value) of each field in ``buf[start:end]``:
    an int for varints, raw little-endian bytes for I64/I32, (start, stop)
    offsets for length-delimited fields."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("a field has number 0")
        if wire == VARINT:
            value, pos = _varint(buf, pos, end)
        elif wire == LEN:
            size, pos = _varint(buf, pos, end)
            if size > end - pos:
                raise Malformed(f"field {number} claims {size} bytes, {end - pos} are left")
            value = (pos, pos + size)
            pos += size
        elif wire in (I64, I32):
            width = 8 if wire == I64 else 4
            if pos + width > end:
                raise Malformed(f"field {number} runs past the end of its message")
            value = bytes(buf[pos:pos + width])
            pos += width
        else:
            # Groups (3, 4) were removed from protobuf long before ONNX;
            # 6 and 7 do not exist.
            raise Malformed(f"field {number} has wire type {wire}, which ONNX never writes")
        yield number, wire, value


# Kinds of scalar fields: the wire type they come in, and, for numbers,
# the wire type of one element of a packed array.
_NUMBER_KINDS = {
    "int": VARINT,      # int32 / int64 / enum, sign-extended
    "uint": VARINT,     # uint64
    "f32": I32,
    "f64": I64,
}
_PACKED_DTYPES = {"f32": "<f4", "f64": "<f8"}


def _number(kind, wire, value):
    if kind == "int":
        return _signed64(value)
    if kind == "uint":
        return value
    return struct.unpack("<f" if kind == "f32" else "<d", value)[0]


def _packed(buf, start, stop, kind):
    if kind in _PACKED_DTYPES:
        width = 4 if kind == "f32" else 8
        if (stop - start) % width:
            raise Malformed(f"a packed array of {kind} has {stop - start} bytes")
        return np.frombuffer(buf[start:stop], dtype=_PACKED_DTYPES[kind])
    out = []
    pos = start
    while pos < stop:
        value, pos = _varint(buf, pos, stop)
        out.append(_number(kind, VARINT, value))
    return out


def decode(buf, start, end, schema, what):
    """A dict of the fields of ``schema`` found in ``buf[start:end]``.

    ``schema`` maps a field number to (name, kind, repeated), kind being
    "int", "uint", "f32", "f64", "str", "bytes" or another schema (a
    sub-message). Absent fields get a default: [] if repeated, else 0,
    "", or None (bytes and messages, so that "absent" and "empty" differ).
    ``what`` names the message in errors.
    """
    out = {}
    for name, kind, repeated in schema.values():
        if repeated:
            out[name] = []
        elif kind in ("int", "uint"):
            out[name] = 0
        elif kind in ("f32", "f64"):
            out[name] = 0.0
        elif kind == "str":
            out[name] = ""
        else:
            out[name] = None
    arrays = set()
    for number, wire, value in iter_fields(buf, start, end):
        spec = schema.get(number)
        if spec is None:
            continue
        name, kind, repeated = spec
        if isinstance(kind, str) and kind in _NUMBER_KINDS:
            if wire == _NUMBER_KINDS[kind]:
                item = _number(kind, wire, value)
                if repeated:
                    out[name].append(item)
                else:
                    out[name] = item
                continue
            if repeated and wire == LEN:
                out[name].append(_packed(buf, value[0], value[1], kind))
                arrays.add(name)
                continue
        elif wire == LEN:
            lo, hi = value
            if kind == "str":
                try:
                    item = bytes(buf[lo:hi]).decode("utf-8")
                except UnicodeDecodeError:
                    raise Malformed(f"{what}.{name} is not UTF-8 text") from None
            elif kind == "bytes":
                item = buf[lo:hi]
            else:
                item = decode(buf, lo, hi, kind, f"{what}.{name}")
            if repeated:
                out[name].append(item)
            else:
                out[name] = item
            continue
        raise Malformed(f"{what}.{name} (field {number}) has wire type {wire}, "
                        "not what ONNX writes there")
    for name in arrays:
        # Packed chunks and single elements may be mixed, as protobuf allows.
        parts = out[name]
        if schema_kind(schema, name) in _PACKED_DTYPES:
            out[name] = np.concatenate([np.atleast_1d(np.asarray(p)) for p in parts])
        else:
            out[name] = [v for p in parts for v in (p if isinstance(p, list) else [p])]
    return out


def schema_kind(schema, name):
    for field_name, kind, _ in schema.values():
        if field_name == name:
            return kind
    raise KeyError(name)


# --------------------------------------------------------- ONNX messages
STRING_ENTRY = {1: ("key", "str", False), 2: ("value", "str", False)}
TENSOR = {
    1: ("dims", "int", True),
    2: ("data_type", "int", False),
    4: ("float_data", "f32", True),
    5: ("int32_data", "int", True),
    7: ("int64_data", "int", True),
    8: ("name", "str", False),
    9: ("raw_data", "bytes", False),
    10: ("double_data", "f64", True),
    11: ("uint64_data", "uint", True),
    13: ("external_data", STRING_ENTRY, True),
    14: ("data_location", "int", False),
}
ATTRIBUTE = {
    1: ("name", "str", False),
    2: ("f", "f32", False),
    3: ("i", "int", False),
    4: ("s", "bytes", False),
    5: ("t", TENSOR, False),
    7: ("floats", "f32", True),
    8: ("ints", "int", True),
    9: ("strings", "bytes", True),
    20: ("type", "int", False),
    21: ("ref_attr_name", "str", False),
}
NODE = {
    1: ("input", "str", True),
    2: ("output", "str", True),
    3: ("name", "str", False),
    4: ("op_type", "str", False),
    5: ("attribute", ATTRIBUTE, True),
    7: ("domain", "str", False),
}
VALUE_INFO = {1: ("name", "str", False)}
GRAPH = {
    1: ("node", NODE, True),
    2: ("name", "str", False),
    5: ("initializer", TENSOR, True),
    11: ("input", VALUE_INFO, True),
    12: ("output", VALUE_INFO, True),
}
OPERATOR_SET = {1: ("domain", "str", False), 2: ("version", "int", False)}
MODEL = {
    1: ("ir_version", "int", False),
    2: ("producer_name", "str", False),
    7: ("graph", GRAPH, False),
    8: ("opset_import", OPERATOR_SET, True),
}

# AttributeProto.type
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR = 1, 2, 3, 4
ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 6, 7, 8

# TensorProto.data_type -> NumPy dtype of raw_data (little-endian on disk).
TENSOR_DTYPES = {
    1: "<f4", 2: "u1", 3: "i1", 4: "<u2", 5: "<i2", 6: "<i4", 7: "<i8", 9: "?",
    10: "<f2", 11: "<f8", 12: "<u4", 13: "<u8", 16: "bfloat16",
}
TENSOR_TYPE_NAMES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16",
}


def read_model(buf):
    """The ModelProto in ``buf`` (bytes or memoryview) as nested dicts.

    Raises `Malformed` unless the bytes parse as a ModelProto with an IR
    version and a graph: a file of another kind almost never does.
    """
    buf = memoryview(buf)
    model = decode(buf, 0, len(buf), MODEL, "ModelProto")
    if model["ir_version"] <= 0:
        raise Malformed("no IR version (every ONNX model has one)")
    if model["graph"] is None:
        raise Malformed("no graph")
    return model


def _bfloat16_to_float32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def tensor_to_array(tensor, what):
    """The NumPy array of a decoded TensorProto (a copy, never a view of the
    file's bytes). Raises ValueError for data it cannot read."""
    if tensor["data_location"] == 1 or tensor["external_data"]:
        location = {e["key"]: e["value"] for e in tensor["external_data"]}.get("location", "?")
        raise ValueError(
            f"{what} is stored outside the model, in external data file {location!r}, "
            "which from_onnx does not read; save the model with its tensors inside "
            "(onnx.save_model(model, path, save_as_external_data=False))"
        )
    code = tensor["data_type"]
    if code not in TENSOR_DTYPES:
        raise ValueError(f"{what} has tensor data type "
                         f"{TENSOR_TYPE_NAMES.get(code, code)}, which from_onnx cannot read")
    dims = [int(d) for d in tensor["dims"]]
    if any(d < 0 for d in dims):
        raise ValueError(f"{what} has negative dimensions {dims}")
    count = int(np.prod(dims, dtype=np.int64))
    raw = tensor["raw_data"]
    dtype = TENSOR_DTYPES[code]
    if raw is not None:
        if dtype == "bfloat16":
            arr = _bfloat16_to_float32(np.frombuffer(raw, dtype="<u2"))
        else:
            width = np.dtype(dtype).itemsize
            if len(raw) != count * width:
                raise ValueError(f"{what} has {len(raw)} bytes of raw data, shape {dims} "
                                 f"needs {count * width}")
            arr = np.frombuffer(raw, dtype=dtype)
    elif code == 1:
        arr = np.asarray(tensor["float_data"], dtype="<f4")
    elif code == 11:
        arr = np.asarray(tensor["double_data"], dtype="<f8")
    elif code == 7:
        arr = np.asarray(tensor["int64_data"], dtype=np.int64)
    elif code in (12, 13):
        arr = np.asarray(tensor["uint64_data"], dtype=np.uint64).astype(dtype)
    elif code == 10:
        # float16 values travel as their bit patterns in int32_data.
        arr = np.asarray(tensor["int32_data"], dtype=np.int64).astype(np.uint16).view(np.float16)
    elif code == 16:
        arr = _bfloat16_to_float32(np.asarray(tensor["int32_data"], dtype=np.int64) & 0xFFFF)
    else:
        arr = np.asarray(tensor["int32_data"], dtype=np.int64).astype(dtype)
    if arr.size != count:
        raise ValueError(f"{what} holds {arr.size} values, its shape {dims} needs {count}")
    return np.array(arr.reshape(dims), dtype=arr.dtype.newbyteorder("="))
