import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { FileListSource } from '../../src/model/sources/browser-folder.ts';
import { FileNotFoundError, SourceError } from '../../src/model/sources/errors.ts';
import { HubSource } from '../../src/model/sources/hub.ts';
import { NodeFolderSource } from '../../src/model/sources/node-folder.ts';
import { readBytes, readText } from '../../src/model/sources/read.ts';
import { FormatError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { HubServer } from '../support/hub-server.ts';
import { rejection } from './rejection.ts';
import { randomBytes } from './tiny-pack.ts';

const REPO = 'owner/repo';
const data = randomBytes(new SeededRandom(3), 50_000);
let hub: HubServer;

beforeAll(async () => {
  hub = await HubServer.start();
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => {
  hub.setRepo(REPO, new Map([['unet/model.onnx_data', data], ['config.json', new TextEncoder().encode('{"a": 1}')]]));
  hub.setRepo(REPO, new Map([['weights.bin', data.subarray(0, 100)]]), 'refs/pr/1');
  hub.ignoreRange = false;
  hub.missingStyle = '404-html';
  hub.clearLog();
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A fetch that answers every request with one canned Response and records the request. */
function canned(make: () => Response) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    return make();
  }) as typeof fetch;
  return { calls, source: new HubSource({ repo: REPO, endpoint: 'https://hub.example', fetch: fetchImpl }) };
}

describe('HubSource', () => {
  test('URLs: default endpoint and revision, encoded revision and path segments', () => {
    expect(new HubSource({ repo: 'runwayml/sd' }).url('unet/model.onnx')).toBe('https://huggingface.co/runwayml/sd/resolve/main/unet/model.onnx');
    const source = new HubSource({ repo: 'a/b', revision: 'refs/pr/1', endpoint: 'http://mirror.local/hf/' });
    expect(source.url('x+y/z.json')).toBe('http://mirror.local/hf/a/b/resolve/refs%2Fpr%2F1/x%2By/z.json');
    expect(source.id).toBe('hub:http://mirror.local/hf/a/b@refs/pr/1');
    expect(() => source.url('../x')).toThrow(/contains "\.\."/);
    expect(() => new HubSource({ repo: 'a/b/c' })).toThrow(/owner\/name/);
    expect(() => new HubSource({ repo: 'a/b', endpoint: 'ftp://x' })).toThrow(/http\(s\)/);
  });

  test('follows the CDN redirect and reports the size', async () => {
    const opened = await new HubSource({ repo: REPO, endpoint: hub.endpoint }).open('unet/model.onnx_data');
    expect(opened.size).toBe(data.length);
    expect(opened.location).toMatch(/resolve\/main\/unet\/model.onnx_data -> .*\/cdn\//);
    expect(await readAll(opened.stream)).toEqual(data);
  });

  test('a revision with slashes reaches the server as one segment', async () => {
    const source = new HubSource({ repo: REPO, endpoint: hub.endpoint, revision: 'refs/pr/1' });
    expect(await readBytes(source, 'weights.bin')).toEqual(data.subarray(0, 100));
  });

  test.each([false, true])('offset reads the rest of the file (server ignores Range: %s)', async (ignoreRange) => {
    hub.ignoreRange = ignoreRange;
    const opened = await new HubSource({ repo: REPO, endpoint: hub.endpoint }).open('unet/model.onnx_data', { offset: 12_345 });
    expect(opened.size).toBe(data.length);
    expect(await readAll(opened.stream)).toEqual(data.subarray(12_345));
    expect(hub.log.at(-1)).toMatchObject({ range: 'bytes=12345-', status: ignoreRange ? 200 : 206 });
  });

  test.each(['404-html', '200-html', '200-html-octet-stream'] as const)('missing file answered with %s', async (style) => {
    hub.missingStyle = style;
    const source = new HubSource({ repo: REPO, endpoint: hub.endpoint });
    const error = await rejection<FileNotFoundError>(source.open('unet/model.onnx'));
    expect(error).toBeInstanceOf(FileNotFoundError);
    expect(error.path).toBe('unet/model.onnx');
    expect(error.message.startsWith(`file not found: unet/model.onnx (${hub.endpoint}/${REPO}/resolve/main/unet/model.onnx`)).toBe(true);
  });

  test('server errors carry the status; gzip makes the size unknown; bad Content-Range is refused', async () => {
    const failing = canned(() => new Response('oops', { status: 503, statusText: 'Service Unavailable' }));
    const error = await rejection<SourceError>(failing.source.open('a.bin'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.status).toBe(503);
    expect(error.message).toBe('cannot read a.bin from https://hub.example/owner/repo/resolve/main/a.bin: HTTP 503 Service Unavailable');

    const gz = canned(() => new Response('{"x":1}', { headers: { 'content-type': 'application/json', 'content-length': '5', 'content-encoding': 'gzip' } }));
    expect((await gz.source.open('a.json')).size).toBe(null);

    const shifted = canned(() => new Response('abc', { status: 206, headers: { 'content-range': 'bytes 10-12/13' } }));
    await expect(shifted.source.open('a.bin', { offset: 5 })).rejects.toThrow(/asked for bytes from 5, got a range starting at 10/);

    const earlier = canned(() => new Response('abcdef', { status: 206, headers: { 'content-range': 'bytes 0-5/6' } }));
    expect(new TextDecoder().decode(await readAll((await earlier.source.open('a.bin', { offset: 2 })).stream))).toBe('cdef');

    const html = canned(() => new Response('  \n<HTML><body>sign in</body></HTML>', { headers: { 'content-type': 'application/octet-stream' } }));
    await expect(html.source.open('a.bin')).rejects.toThrow(/file not found: a.bin .*an HTML page \(HTTP 200\)/);
  });

  test('fresh bypasses HTTP caches; a token becomes a Bearer header', async () => {
    const calls: RequestInit[] = [];
    const source = new HubSource({
      repo: REPO,
      endpoint: 'https://hub.example',
      token: 'hf_x',
      fetch: (async (_input: string | URL | Request, init?: RequestInit) => {
        calls.push(init ?? {});
        return new Response('{}');
      }) as typeof fetch,
    });
    await readText(source, 'manifest.json', { fresh: true });
    expect(calls[0]).toMatchObject({ cache: 'no-store', redirect: 'follow', headers: { Authorization: 'Bearer hf_x' } });
  });
});

describe('readBytes / readText', () => {
  test('refuse files over maxBytes, by declared size and while reading', async () => {
    const source = new HubSource({ repo: REPO, endpoint: hub.endpoint });
    await expect(readBytes(source, 'unet/model.onnx_data', { maxBytes: 1000 })).rejects.toThrow(/50000 bytes is more than the 1000 allowed/);
    const undeclared = canned(() => new Response(new Blob([data as Uint8Array<ArrayBuffer>]).stream()));
    await expect(readBytes(undeclared.source, 'x.bin', { maxBytes: 1000 })).rejects.toThrow(/more than the 1000 allowed/);
    expect(await readText(source, 'config.json')).toBe('{"a": 1}');
    const binary = canned(() => new Response(new Uint8Array([0xff, 0xfe, 0x00])));
    await expect(readText(binary.source, 'x.json')).rejects.toBeInstanceOf(FormatError);
  });
});

describe('FileListSource (input webkitdirectory)', () => {
  function file(relativePath: string, content: string): File {
    const f = new File([content], relativePath.split('/').at(-1)!);
    Object.defineProperty(f, 'webkitRelativePath', { value: relativePath });
    return f;
  }

  test('the folder holding manifest.json is the root, even when a parent folder was picked', async () => {
    const source = new FileListSource([
      file('models/notes.txt', 'x'),
      file('models/tiny/manifest.json', '{}'),
      file('models/tiny/unet/up.onnx', 'UP'),
      file('models/tiny/sub/manifest.json', 'nested, ignored as root'),
    ]);
    expect(await source.list()).toEqual(['manifest.json', 'sub/manifest.json', 'unet/up.onnx']);
    expect(source.id).toBe('files:models/tiny');
    const opened = await source.open('unet/up.onnx', { offset: 1 });
    expect(opened.size).toBe(2);
    expect(new TextDecoder().decode(await readAll(opened.stream))).toBe('P');
    await expect(source.open('unet/down.onnx')).rejects.toThrow('file not found: unet/down.onnx (folder models/tiny/unet/down.onnx: not among the picked files)');
  });
});

describe('NodeFolderSource', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'lethe-folder-'));
    await mkdir(join(folder, 'unet'));
    await writeFile(join(folder, 'unet', 'model.onnx_data'), data);
    await writeFile(join(folder, 'odd name.txt'), 'x');
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  test('as a PackSource: streams by pack path, FileNotFoundError for a missing file, RangeError for a bad path', async () => {
    const source = new NodeFolderSource(folder);
    const opened = await source.open('unet/model.onnx_data', { offset: 10 });
    expect(opened.size).toBe(data.length);
    expect(await readAll(opened.stream)).toEqual(data.subarray(10));
    expect(await rejection(source.open('unet/model.onnx'))).toBeInstanceOf(FileNotFoundError);
    expect((await rejection(source.open('odd name.txt'))).name).toBe('RangeError');
    expect(await source.list()).toEqual(['odd name.txt', 'unet/model.onnx_data']);
  });

  test('as an ExportSource: whole reads, byte ranges, sizes; any plain relative path', async () => {
    const source = new NodeFolderSource(folder);
    expect(await source.read('unet/model.onnx_data')).toEqual(data);
    expect(await source.readRange('unet/model.onnx_data', 1000, 5000)).toEqual(data.subarray(1000, 6000));
    expect(await source.readRange('unet/model.onnx_data', data.length - 10, 100)).toEqual(data.subarray(data.length - 10));
    expect(await source.size('unet/model.onnx_data')).toBe(data.length);
    expect(await source.size('odd name.txt')).toBe(1);
    expect(await source.size('unet')).toBeUndefined();
    expect(await source.size('unet/model.onnx')).toBeUndefined();
    expect(await source.size('../etc/passwd')).toBeUndefined();
    const outside = await rejection(source.read('../etc/passwd'));
    expect(outside).toBeInstanceOf(FormatError);
    expect(outside.message).toMatch(/not a plain relative path/);
    expect((await rejection(source.readRange('unet\\model.onnx_data', 0, 1))).message).toMatch(/not a plain relative path/);
  });
});
