/** Float64 forward references for the VJP tests: plain loops over row-major arrays. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Calls f(coords, flatIndex) for every coordinate of `shape`. */
export function forEachIndex(shape: readonly number[], f: (coords: number[], flat: number) => void): void {
  const n = size(shape);
  const coords = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let rest = i;
    for (let a = shape.length - 1; a >= 0; a--) {
      coords[a] = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
    }
    f(coords, i);
  }
}

export function transposeF64(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]);
  const xs = stridesOf(shape);
  const out = new Float64Array(size(shape));
  forEachIndex(outShape, (c, i) => {
    out[i] = x[c.reduce((acc, v, a) => acc + v * xs[perm[a]], 0)];
  });
  return out;
}

/** x[start + step * i] along each listed axis; outShape is the slice's shape. */
export function sliceF64(x: ArrayLike<number>, shape: readonly number[], axes: number[], starts: number[], steps: number[], outShape: number[]): Float64Array {
  const xs = stridesOf(shape);
  const out = new Float64Array(size(outShape));
  forEachIndex(outShape, (c, i) => {
    let offset = 0;
    c.forEach((v, a) => {
      const k = axes.indexOf(a);
      offset += (k < 0 ? v : starts[k] + steps[k] * v) * xs[a];
    });
    out[i] = x[offset];
  });
  return out;
}

export function concatF64(parts: { data: ArrayLike<number>; shape: number[] }[], axis: number): Float64Array {
  const outShape = [...parts[0].shape];
  outShape[axis] = parts.reduce((acc, p) => acc + p.shape[axis], 0);
  const out = new Float64Array(size(outShape));
  const os = stridesOf(outShape);
  let start = 0;
  for (const p of parts) {
    forEachIndex(p.shape, (c, i) => {
      out[c.reduce((acc, v, a) => acc + (a === axis ? v + start : v) * os[a], 0)] = p.data[i];
    });
    start += p.shape[axis];
  }
  return out;
}

/** Nearest upsampling by integer factors per axis: out[o] = x[floor(o / f)]. */
export function resizeNearestF64(x: ArrayLike<number>, shape: readonly number[], factors: readonly number[]): { data: Float64Array; shape: number[] } {
  const outShape = shape.map((d, a) => d * factors[a]);
  const xs = stridesOf(shape);
  const out = new Float64Array(size(outShape));
  forEachIndex(outShape, (c, i) => {
    out[i] = x[c.reduce((acc, v, a) => acc + Math.floor(v / factors[a]) * xs[a], 0)];
  });
  return { data: out, shape: outShape };
}

export interface ConvAttributes {
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
}

export function conv2dF64(x: ArrayLike<number>, xShape: number[], w: ArrayLike<number>, wShape: number[], b: ArrayLike<number> | null, a: ConvAttributes): { data: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xShape;
  const [oc, , kh, kw] = wShape;
  const oh = Math.floor((h + a.pads[0] + a.pads[2] - a.dilations[0] * (kh - 1) - 1) / a.strides[0]) + 1;
  const ow = Math.floor((wd + a.pads[1] + a.pads[3] - a.dilations[1] * (kw - 1) - 1) / a.strides[1]) + 1;
  const out = new Float64Array(n * oc * oh * ow);
  for (let ni = 0; ni < n; ni++)
    for (let o = 0; o < oc; o++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let acc = b ? b[o] : 0;
          for (let ci = 0; ci < c; ci++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * a.strides[0] - a.pads[0] + ky * a.dilations[0];
                const ix = xo * a.strides[1] - a.pads[1] + kx * a.dilations[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += x[((ni * c + ci) * h + iy) * wd + ix] * w[((o * c + ci) * kh + ky) * kw + kx];
              }
          out[((ni * oc + o) * oh + y) * ow + xo] = acc;
        }
  return { data: out, shape: [n, oc, oh, ow] };
}

/** softmax(scale q kᵀ) v per (batch*head), k given as [bh, d, nk] (kT) or [bh, nk, d]. */
export function attentionF64(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, bh: number, nq: number, nk: number, d: number, scale: number, keysTransposed: boolean): Float64Array {
  const out = new Float64Array(bh * nq * d);
  const s = new Float64Array(nk);
  for (let b = 0; b < bh; b++)
    for (let i = 0; i < nq; i++) {
      let max = -Infinity;
      for (let j = 0; j < nk; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(b * nq + i) * d + c] * k[keysTransposed ? (b * d + c) * nk + j : (b * nk + j) * d + c];
        s[j] = scale * dot;
        max = Math.max(max, s[j]);
      }
      let sum = 0;
      for (let j = 0; j < nk; j++) {
        s[j] = Math.exp(s[j] - max);
        sum += s[j];
      }
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let j = 0; j < nk; j++) acc += s[j] * v[(b * nk + j) * d + c];
        out[(b * nq + i) * d + c] = acc / sum;
      }
    }
  return out;
}
