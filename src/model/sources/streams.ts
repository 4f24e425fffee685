/** Small stream helpers shared by the sources and the loader. */

/** Drops the first `count` bytes of a stream (a server that ignored our Range header). */
export function skipBytes(stream: ReadableStream<Uint8Array>, count: number): ReadableStream<Uint8Array> {
  let remaining = count;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (remaining >= chunk.length) {
          remaining -= chunk.length;
          return;
        }
        controller.enqueue(remaining > 0 ? chunk.subarray(remaining) : chunk);
        remaining = 0;
      },
    }),
  );
}

/**
 * Reads at least `wanted` bytes from the front of a stream (fewer only at its end) and returns them
 * with a stream that yields the same bytes again followed by the rest, so the caller can look at a
 * file's first bytes without consuming them.
 */
export async function peekBytes(
  stream: ReadableStream<Uint8Array>,
  wanted: number,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < wanted) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    chunks.push(value);
    length += value.length;
  }
  const head = concatBytes(chunks, length);
  let replayed = false;
  const replay = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!replayed) {
        replayed = true;
        if (head.length > 0) {
          controller.enqueue(head);
          return;
        }
      }
      if (ended) {
        controller.close();
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head, stream: replay };
}

export function concatBytes(chunks: Uint8Array[], length = chunks.reduce((n, c) => n + c.length, 0)): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === length) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A stream whose source is only opened when it is first read. */
export function lazyStream(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await open()).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}
