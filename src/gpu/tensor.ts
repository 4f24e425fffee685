import type { BufferPool } from './buffer-pool.ts';
import { BYTES_PER_ELEMENT, elementCount, type GpuDtype } from './dtype.ts';

/** A dense row-major tensor in a GPU storage buffer. */
export class GpuTensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly shape: readonly number[],
    readonly dtype: GpuDtype,
    private readonly storage: GPUBuffer,
    private readonly pool: BufferPool | null,
    /** For a view: the tensor that owns the storage (null when this tensor owns it, or nobody does). */
    private readonly owner: GpuTensor | null = null,
  ) {
    this.size = elementCount(shape);
  }

  get buffer(): GPUBuffer {
    if (this.released) throw new Error(`GpuTensor [${this.shape}] ${this.dtype} used after release`);
    return this.storage;
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Same storage, new shape (no copy). The view shares the original's lifetime. */
  reshape(shape: readonly number[]): GpuTensor {
    if (elementCount(shape) !== this.size) throw new RangeError(`reshape: [${this.shape}] has ${this.size} elements, [${shape}] has ${elementCount(shape)}`);
    return new GpuTensor(shape, this.dtype, this.buffer, null, this.owner ?? this);
  }

  /**
   * Frees the storage whether this is the owner or a view of it (views are often all a caller
   * still holds, e.g. a MatMul's reshaped product). Idempotent, like release().
   */
  releaseStorage(): void {
    (this.owner ?? this).release();
  }

  /** Returns the buffer to the pool; GPU work already recorded that uses it stays valid. A view's release does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool?.release(this.storage);
  }
}
