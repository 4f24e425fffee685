/** Builds a uniform block of 4-byte fields, padded to 16 bytes as WGSL requires. */
export class Uniforms {
  private readonly words: number[] = [];
  private readonly kinds: ('u32' | 'i32' | 'f32')[] = [];

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`uniform u32 out of range: ${value}`);
    this.words.push(value);
    this.kinds.push('u32');
    return this;
  }

  i32(value: number): this {
    this.words.push(value | 0);
    this.kinds.push('i32');
    return this;
  }

  f32(value: number): this {
    this.words.push(value);
    this.kinds.push('f32');
    return this;
  }

  finish(): ArrayBuffer {
    const length = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const buffer = new ArrayBuffer(length * 4);
    const view = new DataView(buffer);
    this.words.forEach((word, i) => {
      const kind = this.kinds[i];
      if (kind === 'f32') view.setFloat32(i * 4, word, true);
      else if (kind === 'i32') view.setInt32(i * 4, word, true);
      else view.setUint32(i * 4, word, true);
    });
    return buffer;
  }
}
