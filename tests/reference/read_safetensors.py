#!/usr/bin/env python3
"""A second, independent safetensors reader and writer (json and struct only), to show that the
files recolor writes open elsewhere and that recolor opens files written elsewhere. The
`safetensors` package itself is not installable on the build machines.

    read_safetensors.py FILE            prints {"__metadata__": {...}, "name": {"dtype", "shape",
                                        "values"}, ...} as JSON; exits 1 on an invalid file
    read_safetensors.py --write FILE    writes a small F32 file laid out unlike recolor's
                                        (tensors in reverse name order, no padding beyond the
                                        format's) and prints its contents the same way
"""
import json
import struct
import sys

SIZES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U8": 1, "U16": 2, "U32": 4, "U64": 8, "BOOL": 1}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("header length %d past the end" % n)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    out = {"__metadata__": header.pop("__metadata__", {})}
    spans = []
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        count = 1
        for d in entry["shape"]:
            count *= d
        if entry["dtype"] != "F32":
            raise ValueError("%s: dtype %s not read here" % (name, entry["dtype"]))
        if not 0 <= begin <= end <= len(data) or end - begin != count * 4:
            raise ValueError("%s: bad data_offsets %r" % (name, entry["data_offsets"]))
        spans.append((begin, end))
        values = list(struct.unpack("<%df" % count, data[begin:end]))
        out[name] = {"dtype": "F32", "shape": entry["shape"], "values": values}
    covered = 0
    for begin, end in sorted(spans):
        if begin != covered:
            raise ValueError("data is not laid end to end at byte %d" % begin)
        covered = end
    if covered != len(data):
        raise ValueError("%d data bytes belong to no tensor" % (len(data) - covered))
    return out


def write(path):
    tensors = {
        "zeta.weight": ([2, 3], [0.5 * i - 1.25 for i in range(6)]),
        "alpha.bias": ([4], [1e-3, -2.5, 3.0e7, 0.1]),
        "empty": ([0, 5], []),
    }
    header, blobs, offset = {"__metadata__": {"writer": "read_safetensors.py"}}, [], 0
    for name in sorted(tensors, reverse=True):
        shape, values = tensors[name]
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(argv):
    if len(argv) == 3 and argv[1] == "--write":
        write(argv[2])
        path = argv[2]
    elif len(argv) == 2:
        path = argv[1]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        contents = read(path)
    except (ValueError, KeyError, TypeError, struct.error) as e:
        print("invalid safetensors file %s: %s" % (path, e), file=sys.stderr)
        return 1
    json.dump(contents, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
