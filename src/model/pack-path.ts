/**
 * Paths inside a pack. They become URL path segments on the hub, file names in a local folder and
 * keys in the manifest, so they are kept to a portable subset: relative, '/'-separated, each segment
 * of letters, digits, '.', '_', '-', '+', no '.' or '..' segments. A manifest from a stranger can
 * therefore never name a file outside the pack folder.
 */

export const MAX_PACK_PATH_LENGTH = 512;

const SEGMENT = /^[A-Za-z0-9._+-]+$/;

/** Why `path` is not an acceptable pack path, or null when it is. */
export function packPathProblem(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_PACK_PATH_LENGTH) return `is longer than ${MAX_PACK_PATH_LENGTH} characters`;
  if (path.includes('\\')) return 'contains a backslash (use "/")';
  if (path.startsWith('/')) return 'is absolute (must be relative to the pack folder)';
  if (/^[A-Za-z]:/.test(path)) return 'starts with a drive letter (must be relative to the pack folder)';
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty segment ("//" or a trailing "/")';
    if (segment === '..') return 'contains ".." (must stay inside the pack folder)';
    if (segment === '.') return 'contains a "." segment';
    if (!SEGMENT.test(segment)) return `segment "${segment}" has characters outside [A-Za-z0-9._+-]`;
  }
  return null;
}

/** Throws a RangeError naming the path unless it is an acceptable pack path. */
export function assertPackPath(path: string): void {
  const problem = packPathProblem(path);
  if (problem) throw new RangeError(`pack path ${JSON.stringify(path)} ${problem}`);
}
