import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { Sha256, isSha256Hex, sha256Hex, sha256HexSync } from '../../src/util/sha256.ts';
import { SeededRandom } from '../../src/util/random.ts';

function randomBytes(rng: SeededRandom, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

function nodeSha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('Sha256', () => {
  test('FIPS 180-2 vectors', () => {
    const enc = new TextEncoder();
    expect(sha256HexSync(enc.encode(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256HexSync(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256HexSync(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  test.each([0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 1_000_000])('length %i matches node:crypto', (length) => {
    const data = randomBytes(new SeededRandom(length + 7), length);
    expect(sha256HexSync(data)).toBe(nodeSha(data));
  });

  test('random lengths fed in random chunkings match node:crypto', () => {
    const rng = new SeededRandom(42);
    for (let trial = 0; trial < 60; trial++) {
      const length = Math.floor(rng.uniform() * 5000);
      const data = randomBytes(rng, length);
      const hasher = new Sha256();
      let offset = 0;
      while (offset < length) {
        const take = Math.min(length - offset, Math.floor(rng.uniform() * 200));
        hasher.update(data.subarray(offset, offset + take));
        offset += take;
      }
      expect(hasher.bytesHashed).toBe(length);
      expect(hasher.hexDigest()).toBe(nodeSha(data));
    }
  });

  test('1e6 bytes in 1-byte and 64-byte-misaligned chunks', () => {
    const data = randomBytes(new SeededRandom(3), 1_000_000);
    const byByte = new Sha256();
    for (let i = 0; i < 10_000; i++) byByte.update(data.subarray(i, i + 1));
    byByte.update(data.subarray(10_000));
    const misaligned = new Sha256();
    for (let i = 0; i < data.length; i += 4099) misaligned.update(data.subarray(i, i + 4099));
    const expected = nodeSha(data);
    expect(byByte.hexDigest()).toBe(expected);
    expect(misaligned.hexDigest()).toBe(expected);
  });

  test('sha256Hex (WebCrypto path) agrees, also on a subarray view', async () => {
    const data = randomBytes(new SeededRandom(9), 3000);
    const view = data.subarray(17, 2017);
    expect(await sha256Hex(view)).toBe(nodeSha(view));
    expect(await sha256Hex(new Uint8Array(0))).toBe(nodeSha(new Uint8Array(0)));
  });

  test('misuse is refused', () => {
    const hasher = new Sha256();
    hasher.digest();
    expect(() => hasher.update(new Uint8Array(1))).toThrow(/after digest/);
    expect(() => hasher.digest()).toThrow(/twice/);
    expect(isSha256Hex('a'.repeat(64))).toBe(true);
    expect(isSha256Hex('A'.repeat(64))).toBe(false);
    expect(isSha256Hex('a'.repeat(63))).toBe(false);
  });
});
