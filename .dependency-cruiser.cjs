/**
 * The layer order of src/ (docs/ARCHITECTURE.md), bottom to top. A module may import its own
 * folder and any folder below it, never one above: there is no list of allowed exceptions.
 * The three entry layers at the top (app, cli, diagnostics) stand side by side and do not
 * import each other. `npm run lint:layers` checks it; `npm test` runs that first.
 */
const LAYERS = ['util', 'gpu', 'formats', 'autograd', 'model', 'pipeline', 'training', 'erasure', 'concept-world', 'evaluation', 'engine'];
const ENTRIES = ['app', 'cli', 'diagnostics'];

const folder = (name) => `^src/${name}/`;
const anyOf = (names) => `^src/(${names.join('|')})/`;

const upward = LAYERS.map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${i === 0 ? 'itself' : `itself and ${LAYERS.slice(0, i).join(', ')}`} (docs/ARCHITECTURE.md, layers)`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: anyOf([...LAYERS.slice(i + 1), ...ENTRIES]) },
}));

const entries = ENTRIES.map((entry) => ({
  name: `entry-${entry}`,
  comment: `src/${entry} is an entry layer: it uses the engine and the layers below, not the other entries`,
  severity: 'error',
  from: { path: folder(entry) },
  to: { path: anyOf(ENTRIES.filter((other) => other !== entry)) },
}));

module.exports = {
  forbidden: [
    ...upward,
    ...entries,
    {
      name: 'worker-above-engine',
      comment: 'workers/ host the engine; the UI, the CLI and the diagnostics pages are not theirs to import',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: anyOf(ENTRIES) },
    },
    {
      name: 'src-not-tests-or-bench',
      comment: 'src/ ships: it never imports test helpers, benches or tools',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { path: '^(tests|bench|tools)/' },
    },
    {
      name: 'tests-not-bench',
      comment: 'tests import what they test from src/, never from bench/',
      severity: 'error',
      from: { path: '^tests/' },
      to: { path: '^bench/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^dist' },
  },
};
