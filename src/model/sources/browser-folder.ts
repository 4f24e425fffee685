import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { FileNotFoundError } from './errors.ts';
import { MANIFEST_FILE } from '../manifest.ts';
import { assertPackPath } from '../pack-path.ts';

/** The async iteration of directory handles, which TypeScript's DOM lib only declares in DOM.AsyncIterable. */
interface IterableDirectoryHandle {
  values(): AsyncIterable<FileSystemDirectoryHandle | FileSystemFileHandle>;
}

/**
 * A pack folder the user picked (`showDirectoryPicker()`) or dropped (Chrome:
 * `DataTransferItem.getAsFileSystemHandle()`), read through the File System Access API.
 */
export class DirectoryHandleSource implements PackSource {
  readonly id: string;
  readonly description: string;

  constructor(private readonly handle: FileSystemDirectoryHandle) {
    this.id = `folder-handle:${handle.name}`;
    this.description = `folder ${handle.name}`;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    assertPackPath(path);
    options.signal?.throwIfAborted();
    const segments = path.split('/');
    const name = segments.pop() as string;
    let file: File;
    try {
      let directory = this.handle;
      for (const segment of segments) directory = await directory.getDirectoryHandle(segment);
      file = await (await directory.getFileHandle(name)).getFile();
    } catch (error) {
      const kind = (error as DOMException).name;
      if (kind === 'NotFoundError' || kind === 'TypeMismatchError') throw new FileNotFoundError(path, `${this.handle.name}/${path}`);
      throw error;
    }
    return { size: file.size, stream: file.slice(options.offset ?? 0).stream(), location: `${this.handle.name}/${path}` };
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (directory: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
      for await (const entry of (directory as unknown as IterableDirectoryHandle).values()) {
        if (entry.kind === 'file') out.push(prefix + entry.name);
        else await walk(entry, `${prefix}${entry.name}/`);
      }
    };
    await walk(this.handle, '');
    return out.sort();
  }
}

/**
 * A pack folder chosen with `<input type="file" webkitdirectory>`: a flat list of File objects
 * whose webkitRelativePath starts with the chosen folder's name. The pack root is the folder that
 * holds manifest.json (the shallowest one), so picking a parent of the pack folder also works.
 */
export class FileListSource implements PackSource {
  readonly id: string;
  readonly description: string;
  private readonly files = new Map<string, File>();

  constructor(files: Iterable<File>) {
    const all = [...files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
    const manifests = all
      .map(({ path }) => path)
      .filter((path) => path === MANIFEST_FILE || path.endsWith(`/${MANIFEST_FILE}`))
      .sort((a, b) => a.split('/').length - b.split('/').length);
    const prefix = manifests.length > 0 ? manifests[0].slice(0, -MANIFEST_FILE.length) : commonFolder(all.map((f) => f.path));
    for (const { file, path } of all) if (path.startsWith(prefix)) this.files.set(path.slice(prefix.length), file);
    const rootName = prefix.replace(/\/$/, '') || '(picked files)';
    this.id = `files:${rootName}`;
    this.description = `folder ${rootName}`;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    assertPackPath(path);
    options.signal?.throwIfAborted();
    const file = this.files.get(path);
    if (!file) throw new FileNotFoundError(path, `${this.description}/${path}`, 'not among the picked files');
    return { size: file.size, stream: file.slice(options.offset ?? 0).stream(), location: `${this.description}/${path}` };
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }
}

function commonFolder(paths: string[]): string {
  if (paths.length === 0) return '';
  const first = paths[0].split('/')[0];
  return paths.every((p) => p.startsWith(`${first}/`)) ? `${first}/` : '';
}
