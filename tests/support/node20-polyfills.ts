/**
 * Vitest 5's reporters call Map.groupBy, which Node 20 lacks (Node 21+ has it); without this a
 * failing test crashes the reporter instead of printing the failure.
 */
export function installNode20Polyfills(): void {
  const mapConstructor = Map as MapConstructor & { groupBy?: unknown };
  if (typeof mapConstructor.groupBy !== 'function') {
    Object.defineProperty(Map, 'groupBy', {
      configurable: true,
      writable: true,
      value<K, T>(items: Iterable<T>, keyOf: (item: T, index: number) => K): Map<K, T[]> {
        const groups = new Map<K, T[]>();
        let index = 0;
        for (const item of items) {
          const key = keyOf(item, index++);
          const group = groups.get(key);
          if (group) group.push(item);
          else groups.set(key, [item]);
        }
        return groups;
      },
    });
  }
}
