"""PyTorch side of the device training bench: runs a Lethe pack's UNet pieces (the same ONNX
graphs the WGSL executor runs) in PyTorch eager on CUDA, chained down -> mid -> up, and times
the forward and the forward + backward to the K/V inputs, beside our numbers on the same GPU.

An interpreter of the ops the forged packs contain (opset 14). Shape arithmetic is evaluated
once (static shapes, like our executor folds it at load), so the timed loop runs only the
float ops. It also checks its output against the WGSL executor's, from inputs the Node runner
saved (`--check DIR`: sample.f32, timestep.f32, k_i.f32 / v_i.f32, out_sample.f32, dims.json).

Usage: python3 torch_pieces.py PACK_DIR --batch 1 --height 64 --width 64 [--check DIR] [--json OUT]
"""
import argparse
import json
import os
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

DTYPES = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64}


def attrs(node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def ints(t):
    return [int(v) for v in (t.tolist() if isinstance(t, torch.Tensor) else t)]


def run_op(op, a, x, device):
    """One ONNX node. `x`: input tensors (None for an absent optional one)."""
    if op == 'Constant':
        if 'value' in a:
            arr = numpy_helper.to_array(a['value'])
            t = torch.from_numpy(np.array(arr))
            return [t.to(device) if t.is_floating_point() else t]
        for key in ('value_float', 'value_floats', 'value_int', 'value_ints'):
            if key in a:
                return [torch.tensor(a[key], dtype=torch.float32 if 'float' in key else torch.int64)]
        raise ValueError(f'Constant without value: {a}')
    if op == 'Shape':
        return [torch.tensor(list(x[0].shape), dtype=torch.int64)]
    if op == 'Gather':
        data, idx = x
        axis = a.get('axis', 0) % data.dim()
        flat = idx.reshape(-1).to(data.device) % data.shape[axis]
        out = torch.index_select(data, axis, flat)
        return [out.reshape(list(data.shape[:axis]) + list(idx.shape) + list(data.shape[axis + 1:]))]
    if op == 'Unsqueeze':
        out = x[0]
        rank = out.dim() + len(ints(x[1]))
        for axis in sorted(v % rank for v in ints(x[1])):
            out = out.unsqueeze(axis)
        return [out]
    if op == 'Expand':
        shape = torch.broadcast_shapes(tuple(x[0].shape), tuple(ints(x[1])))
        return [x[0].expand(shape)]
    if op in ('Exp', 'Sin', 'Cos', 'Sigmoid', 'Erf', 'Sqrt'):
        return [getattr(torch, op.lower())(x[0])]
    if op == 'Cast':
        return [x[0].to(DTYPES[a['to']])]
    if op in ('Add', 'Sub', 'Mul', 'Div', 'Pow'):
        l, r = x
        if l.device != r.device:
            l, r = l.to(device), r.to(device)
        if op == 'Div' and not l.is_floating_point():
            return [torch.div(l, r, rounding_mode='trunc')]
        return [{'Add': torch.add, 'Sub': torch.sub, 'Mul': torch.mul, 'Div': torch.div, 'Pow': torch.pow}[op](l, r)]
    if op == 'Concat':
        parts = x
        if any(p.device != parts[0].device for p in parts):
            parts = [p.to(device) for p in parts]
        return [torch.cat(parts, a['axis'])]
    if op == 'Slice':
        data = x[0]
        starts, ends = ints(x[1]), ints(x[2])
        axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
        steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
        index = [slice(None)] * data.dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            if st <= 0:
                raise ValueError('Slice with a non-positive step')
            dim = data.shape[ax % data.dim()]
            index[ax % data.dim()] = slice(max(min(s, dim), -dim), max(min(e, dim), -dim - 1), st)
        return [data[tuple(index)]]
    if op == 'Gemm':
        A, B = x[0], x[1]
        if a.get('transA', 0):
            A = A.t()
        if a.get('transB', 0):
            B = B.t()
        out = (A @ B) * a.get('alpha', 1.0)
        if len(x) > 2 and x[2] is not None:
            out = out + x[2] * a.get('beta', 1.0)
        return [out]
    if op == 'MatMul':
        return [torch.matmul(x[0], x[1])]
    if op == 'Conv':
        pads = a.get('pads', [0, 0, 0, 0])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise ValueError(f'asymmetric Conv pads {pads}')
        return [F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a.get('strides', [1, 1]), padding=(pads[0], pads[1]), dilation=a.get('dilations', [1, 1]), groups=a.get('group', 1))]
    if op == 'Reshape':
        shape = ints(x[1])
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return [x[0].reshape(shape)]
    if op == 'InstanceNormalization':
        return [F.instance_norm(x[0], weight=x[1], bias=x[2], eps=a.get('epsilon', 1e-5))]
    if op == 'Transpose':
        return [x[0].permute(a['perm'])]
    if op == 'ReduceMean':
        return [x[0].mean(dim=a['axes'], keepdim=bool(a.get('keepdims', 1)))]
    if op == 'Softmax':
        return [torch.softmax(x[0], a.get('axis', -1))]
    if op == 'Resize':
        if a.get('mode', 'nearest') != 'nearest':
            raise ValueError(f'Resize mode {a.get("mode")}')
        sizes = x[3] if len(x) > 3 and x[3] is not None and x[3].numel() > 0 else None
        if sizes is not None:
            return [F.interpolate(x[0], size=ints(sizes)[2:], mode='nearest')]
        scales = [float(v) for v in x[2].tolist()]
        return [F.interpolate(x[0], scale_factor=tuple(scales[2:]), mode='nearest')]
    raise ValueError(f'op {op} is not in the interpreter')


class Piece:
    def __init__(self, path, device):
        model = onnx.load(path, load_external_data=True)
        self.graph = model.graph
        self.device = device
        self.inputs = [i.name for i in self.graph.input]
        self.outputs = [o.name for o in self.graph.output]
        self.weights = {}
        for init in self.graph.initializer:
            t = torch.from_numpy(np.array(numpy_helper.to_array(init)))
            self.weights[init.name] = t.to(device).float() if t.is_floating_point() else t
        self.static = None

    def fold(self, given):
        """Evaluates once every node that depends only on constants and shapes."""
        values = dict(self.weights)
        values.update(given)
        static = {name: t for name, t in self.weights.items()}
        known = set(static)
        self.static_nodes = set()
        for i, node in enumerate(self.graph.node):
            ins = [values.get(n) if n else None for n in node.input]
            outs = run_op(node.op_type, attrs(node), ins, self.device)
            for name, t in zip(node.output, outs):
                values[name] = t
            # Shapes are static, so Shape and whatever reads only constants and shapes is too.
            if node.op_type in ('Shape', 'Constant') or all((not n) or n in known for n in node.input):
                self.static_nodes.add(i)
                for name, t in zip(node.output, outs):
                    known.add(name)
                    static[name] = t
        self.static = static
        self.runtime = [(node.op_type, attrs(node), list(node.input), list(node.output)) for i, node in enumerate(self.graph.node) if i not in self.static_nodes]

    def __call__(self, given):
        if self.static is None:
            self.fold(given)
        values = dict(self.static)
        values.update(given)
        for op, a, ins, outs in self.runtime:
            result = run_op(op, a, [values[n] if n else None for n in ins], self.device)
            for name, t in zip(outs, result):
                values[name] = t
        return {name: values[name] for name in self.outputs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('pack')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--height', type=int, default=64)
    parser.add_argument('--width', type=int, default=64)
    parser.add_argument('--check')
    parser.add_argument('--json')
    parser.add_argument('--runs', type=int, default=10)
    args = parser.parse_args()
    device = torch.device('cuda')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    manifest = json.load(open(os.path.join(args.pack, 'manifest.json')))
    t0 = time.time()
    pieces = [Piece(os.path.join(args.pack, p['file']), device) for p in manifest['pieces']]
    load_s = time.time() - t0
    dims = manifest['dims']
    rng = np.random.default_rng(5)
    given = {}
    if args.check:
        for name in ['sample', 'timestep'] + [n for p in pieces for n in p.inputs if n[:2] in ('k_', 'v_')]:
            meta = json.load(open(os.path.join(args.check, 'dims.json')))[name]
            given[name] = torch.from_numpy(np.fromfile(os.path.join(args.check, f'{name}.f32'), dtype=np.float32).reshape(meta)).to(device)
    else:
        b = args.batch
        given['sample'] = torch.randn(b, dims['latentChannels'], args.height, args.width, device=device)
        given['timestep'] = torch.full((b,), 500.0, device=device)
        for p in pieces:
            for graph_input in p.graph.input:
                if graph_input.name[:2] in ('k_', 'v_'):
                    inner = graph_input.type.tensor_type.shape.dim[2].dim_value
                    given[graph_input.name] = torch.randn(b, dims['textTokens'], inner, device=device)
    # Integer timestep inputs take int64, as the export declares them.
    for p in pieces:
        for graph_input in p.graph.input:
            if graph_input.name == 'timestep' and graph_input.type.tensor_type.elem_type == 7:
                given['timestep'] = given['timestep'].to(torch.int64)
    kv = [n for n in given if n[:2] in ('k_', 'v_')]

    def forward(inputs):
        values = dict(inputs)
        for p in pieces:
            values.update(p({n: values[n] for n in p.inputs}))
        return values['out_sample']

    def timed(fn, runs):
        fn()
        torch.cuda.synchronize()
        start = time.time()
        for _ in range(runs):
            fn()
        torch.cuda.synchronize()
        return (time.time() - start) / runs * 1000

    report = {'device': torch.cuda.get_device_name(), 'torch': torch.__version__, 'loadS': load_s}
    with torch.no_grad():
        out = forward(given)
        report['forwardMs'] = timed(lambda: forward(given), args.runs)
    if args.check:
        ours = np.fromfile(os.path.join(args.check, 'out_sample.f32'), dtype=np.float32)
        theirs = out.float().cpu().numpy().reshape(-1)
        report['maxAbsDiffVsWgsl'] = float(np.abs(ours - theirs).max())
        report['maxAbsOut'] = float(np.abs(theirs).max())
    seed = torch.randn_like(out)
    leaves = {n: (t.detach().requires_grad_(True) if n in kv else t) for n, t in given.items()}

    def step():
        for n in kv:
            leaves[n].grad = None
        (forward(leaves) * seed).sum().backward()

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    report['stepMs'] = timed(step, args.runs)
    report['stepPeakBytes'] = torch.cuda.max_memory_allocated() - base
    report['weightsBytes'] = sum(t.numel() * t.element_size() for p in pieces for t in p.weights.values())
    print(json.dumps(report))
    if args.json:
        json.dump(report, open(args.json, 'w'))


if __name__ == '__main__':
    main()
