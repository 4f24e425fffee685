/**
 * Refs are tiny files `{"name", "sha256"}` stored under the sha256 of their name (so any name is a
 * safe file name). The name is stored too, so a corrupt or foreign file is never taken for a ref.
 */
export function parseRefText(text: string, name: string): string | null {
  try {
    const value = JSON.parse(text) as { name?: unknown; sha256?: unknown };
    return value.name === name && typeof value.sha256 === 'string' && /^[0-9a-f]{64}$/.test(value.sha256) ? value.sha256 : null;
  } catch {
    return null;
  }
}
