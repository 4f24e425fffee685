"""safetensors files without the safetensors package: an 8-byte header length, a JSON header
(dtype, shape, data_offsets per tensor, sorted by name), then the raw little-endian data."""
import json
import struct

import torch

DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.int32: 'I32', torch.int64: 'I64'}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def save(tensors, path, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text)
        for blob in blobs:
            f.write(blob)


def load(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, spec in header.items():
        if name == '__metadata__':
            continue
        start, end = spec['data_offsets']
        data = bytearray(raw[8 + n + start:8 + n + end])
        out[name] = torch.frombuffer(data, dtype=TORCH_DTYPES[spec['dtype']]).view(spec['shape']).clone()
    return out
