"""A minimal PNG writer (RGB, 8 bit) so the trainer needs nothing beyond torch."""
import struct
import zlib


def write_png(path, image):
    """image: uint8 tensor (H, W, 3)."""
    h, w, _ = image.shape
    raw = b''.join(b'\x00' + image[y].contiguous().numpy().tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


def grid(images, columns):
    """(N, 3, H, W) in [0, 1] -> (rows*H, columns*W, 3) uint8."""
    n, _, h, w = images.shape
    rows = (n + columns - 1) // columns
    import torch
    canvas = torch.ones(3, rows * h, columns * w)
    for i in range(n):
        r, c = divmod(i, columns)
        canvas[:, r * h:(r + 1) * h, c * w:(c + 1) * w] = images[i]
    return (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0)
