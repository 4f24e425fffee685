/**
 * Reuses GPU buffers by size class. Training and generation allocate the same shapes every
 * step; creating and destroying buffers per op costs far more than the kernels on small shapes.
 */

export interface PoolStats {
  /** Bytes of all buffers the pool created and has not destroyed. */
  allocatedBytes: number;
  /** Bytes handed out and not yet returned. */
  inUseBytes: number;
  peakInUseBytes: number;
  buffersCreated: number;
  reuses: number;
}

/** Size classes: 256-byte steps up to 64 KiB, then 8 steps per power of two (waste <= 12.5%). */
export function sizeClass(bytes: number): number {
  const minimum = Math.max(bytes, 16);
  if (minimum <= 65536) return Math.ceil(minimum / 256) * 256;
  const power = 2 ** Math.floor(Math.log2(minimum));
  const step = power / 8;
  return Math.ceil(minimum / step) * step;
}

/** The highest in-use bytes seen since it started; several can run at once (nested measurements). */
export interface PeakWatch {
  readonly startBytes: number;
  readonly peakBytes: number;
  stop(): void;
}

export class BufferPool {
  private readonly watches = new Set<{ startBytes: number; peakBytes: number }>();
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private readonly stats: PoolStats = { allocatedBytes: 0, inUseBytes: 0, peakInUseBytes: 0, buffersCreated: 0, reuses: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const reusable = this.free.get(key)?.pop();
    let buffer: GPUBuffer;
    if (reusable) {
      buffer = reusable;
      this.stats.reuses++;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
      this.sizes.set(buffer, size);
      this.stats.allocatedBytes += size;
      this.stats.buffersCreated++;
    }
    this.stats.inUseBytes += size;
    this.stats.peakInUseBytes = Math.max(this.stats.peakInUseBytes, this.stats.inUseBytes);
    for (const watch of this.watches) watch.peakBytes = Math.max(watch.peakBytes, this.stats.inUseBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error('BufferPool.release: buffer was not made by this pool');
    this.stats.inUseBytes -= size;
    const key = `${buffer.usage}:${size}`;
    const list = this.free.get(key);
    if (list) list.push(buffer);
    else this.free.set(key, [buffer]);
  }

  /** Destroys every free buffer (after a model is unloaded, or when memory is tight). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.stats.allocatedBytes -= this.sizes.get(buffer) ?? 0;
        buffer.destroy();
      }
    }
    this.free.clear();
  }

  /**
   * Starts measuring the peak without disturbing `peakInUseBytes` (which a caller further out may
   * be measuring): a step's peak and its backward sweep's peak can be taken together.
   */
  watchPeak(): PeakWatch {
    const watch = { startBytes: this.stats.inUseBytes, peakBytes: this.stats.inUseBytes };
    this.watches.add(watch);
    const watches = this.watches;
    return {
      get startBytes() {
        return watch.startBytes;
      },
      get peakBytes() {
        return watch.peakBytes;
      },
      stop: () => void watches.delete(watch),
    };
  }

  resetPeak(): void {
    this.stats.peakInUseBytes = this.stats.inUseBytes;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
