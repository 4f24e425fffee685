/**
 * ONNX Conv's output length along one spatial axis: floor((size + pads - dilation (kernel - 1) - 1) / stride) + 1.
 * The one copy of this rule: the GPU conv kernels, the autograd Conv and the converter's symbolic
 * shape inference all use it. A plain function with no imports, so the converter can use it
 * without loading any kernel.
 */
export function convOutputLength(size: number, kernel: number, stride: number, dilation: number, padBefore: number, padAfter: number): number {
  return Math.floor((size + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}
