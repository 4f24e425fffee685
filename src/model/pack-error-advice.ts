import type { PackSourceSpec } from './pack-spec.ts';

/** A failed pack load as the UI and the CLI show it. */
export interface PackErrorView {
  /** One line: what went wrong. */
  title: string;
  /** The error's own message (names the file and where it was looked for). */
  detail: string;
  /** What the user can do about it. */
  advice: string;
}

/**
 * Says what to do about an error from openPack. Works from the error's name and message only,
 * because that is all that survives the trip from the worker through comlink (which rebuilds a
 * plain Error with the original name and message).
 */
export function describePackError(error: unknown, sourceKind: PackSourceSpec['kind']): PackErrorView {
  const name = typeof (error as { name?: unknown })?.name === 'string' ? (error as { name: string }).name : '';
  const detail = error instanceof Error || typeof (error as { message?: unknown })?.message === 'string' ? String((error as { message: string }).message) : String(error);
  const hub = sourceKind === 'hub';
  const folder = sourceKind === 'directory' || sourceKind === 'files' || sourceKind === 'path';
  const view = (title: string, advice: string): PackErrorView => ({ title, detail, advice });

  if (name === 'AbortError') return view('The load was cancelled.', 'Press Load to start again; files already downloaded are kept.');

  const missing = /^file not found: (\S+)/.exec(detail);
  if (name === 'FileNotFoundError' || missing) {
    const path = missing?.[1] ?? 'a file';
    if (path === 'manifest.json') {
      if (hub)
        return view(
          'file not found: manifest.json — this repo is not a Lethe pack at that revision.',
          'Check the repo id (owner/name), the revision and, under Advanced, the endpoint. A diffusers ONNX export must be converted into a pack first.',
        );
      return view('file not found: manifest.json — this folder is not a Lethe pack.', 'Pick the pack folder itself: the one that contains manifest.json.');
    }
    if (hub) return view(`file not found: ${path} — check the repo id and revision.`, 'manifest.json lists this file but the repo does not have it at that revision: the upload may be incomplete, or the revision wrong.');
    if (folder) return view(`file not found: ${path} — the folder is missing a file of the pack.`, 'Copy the whole pack folder again (every file manifest.json lists) and pick it again.');
    return view(`file not found: ${path}`, 'The pack is incomplete.');
  }

  if (/HTTP 40[13]\b/.test(detail))
    return view(
      'The hub refused access: the repo is private or gated, or does not exist.',
      /token was refused/.test(detail)
        ? 'The access token was refused: paste a valid read token under Advanced.'
        : 'Check the repo id; for a private or gated repo, accept its terms on the hub and paste a read token under Advanced.',
    );
  if (/HTTP (5\d\d|429|408)\b/.test(detail)) return view('The server had a problem.', 'Try again later: downloaded files are kept, so the next Load resumes.');
  if (/download interrupted/.test(detail)) return view('The download kept getting interrupted.', 'Press Load again: it resumes where it stopped.');
  if (name === 'TypeError' && /fetch|network|load failed/i.test(detail))
    return view(
      'Could not reach the server.',
      'Check your connection and, under Advanced, the endpoint URL. A custom endpoint must answer with CORS headers (Access-Control-Allow-Origin).',
    );

  if (name === 'IntegrityError' || /sha256 mismatch|expected \d+ bytes, got/.test(detail))
    return view(
      'A file did not match manifest.json and was discarded.',
      'Press Load again. If it happens again, the pack is inconsistent: its files changed after its manifest.json was written.',
    );
  if (name === 'FormatError')
    return view('The pack is damaged or was made by another version of Lethe.', 'Load a pack converted with this version, or convert the model again.');

  if (/hub repo must look like/.test(detail)) return view('The repo id is not valid.', 'Enter it as owner/name, e.g. stabilityai/stable-diffusion-2-1 (a Lethe pack of it).');
  if (/hub revision must/.test(detail)) return view('The revision is not valid.', 'Use a branch, tag or commit hash, or leave it empty for main.');
  if (/hub endpoint must/.test(detail)) return view('The endpoint is not valid.', 'Use an http(s) URL such as https://huggingface.co, or leave it empty.');
  if (name === 'QuotaExceededError' || /quota/i.test(detail))
    return view('The browser storage is full.', 'Clear the cache below or free disk space, then press Load again.');
  if (/^offline:/.test(detail)) return view('The pack is not available offline.', 'Load it once while online.');
  if (/no files were picked|only be opened by the lethe CLI|no built-in demo pack/.test(detail)) return view(detail, 'Choose another source.');

  return view('The pack could not be loaded.', 'The previous model (if any) stays loaded. The details below say what failed.');
}
