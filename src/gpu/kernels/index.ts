/** Every WGSL kernel dispatcher, so the engine and the graph executor import one place. */
export { matmul, type MatmulOptions } from './matmul.ts';
export { binary, BINARY_OP_NAMES, type BinaryOp } from './binary.ts';
export { unary, affine, UNARY_OP_NAMES, type UnaryOp } from './unary.ts';
export { where } from './where.ts';
export { reduce, REDUCE_OP_NAMES, type ReduceOp, type ReduceOptions } from './reduce.ts';
export { softmax, type SoftmaxOptions } from './softmax.ts';
export { layerNorm, type LayerNormOptions } from './layer-norm.ts';
export { groupNorm, type GroupNormOptions } from './group-norm.ts';
export { instanceNorm } from './instance-norm.ts';
export { broadcastShapes, MAX_BROADCAST_RANK } from './broadcast.ts';
export { reductionStrategy, splitAroundAxes, type AxisSplit, type ReductionStrategy } from './reduction-plan.ts';
export { conv2d, conv2dOutputShape, type Conv2dOptions } from './conv2d.ts';
export { layoutCopy, contiguousStrides, MAX_LAYOUT_COPY_RANK, type CopyLayout } from './layout-copy.ts';
export { widenHalf } from './widen-half.ts';
