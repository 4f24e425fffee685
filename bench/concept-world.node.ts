/**
 * What the concept world knows, measured through Lethe's own pipeline (Node engine: ORT on the CPU,
 * our K/V kernels, DDIM) and judged by the shipped classifier, on the evaluation templates only:
 * per-class and per-synonym accuracy with the confusion matrix, style accuracy, the classes the
 * unconditional model draws, and one closed-form erasure of each class in --erase.
 *   node bin/run-ts.mjs bench/concept-world.node.ts [--seeds 16] [--steps 20] [--guidance 7.5] [--erase cat]
 * Writes bench/results/concept-world.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createNodeEngine } from '../src/engine/node-engine.ts';
import { MemoryBlobCache } from '../src/model/cache/memory.ts';
import { NodeOnnxRunner } from '../src/pipeline/onnx/node-runner.ts';
import { createConceptWorldJudge, parseConceptWorldLabels } from '../src/evaluation/judges/concept-world-judge.ts';
import type { Judge, JudgeImage } from '../src/evaluation/judges/judge.ts';
import type { Engine } from '../src/engine/engine.ts';

interface World {
  objects: { name: string; synonyms: string[] }[];
  styles: { name: string; words: string[] }[];
  evaluationTemplates: string[];
}

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const seeds = Number(arg('seeds', '16'));
const steps = Number(arg('steps', '20'));
const guidance = Number(arg('guidance', '7.5'));
const eraseClasses = arg('erase', 'cat').split(',').filter(Boolean);

const world = JSON.parse(readFileSync('public/concept-world/world.json', 'utf8')) as World;
const labelsJson = JSON.parse(readFileSync('public/concept-world/judge.json', 'utf8')) as unknown;
const labels = parseConceptWorldLabels(labelsJson, 'judge.json');
const model = new Uint8Array(readFileSync('public/concept-world/judge.onnx'));
const runner = new NodeOnnxRunner();
const objectJudge = await createConceptWorldJudge(runner, model, labels, { head: 'object_logits' });
const styleJudge = await createConceptWorldJudge(runner, model, labels, { head: 'style_logits' });

const engine = await createNodeEngine({ cache: new MemoryBlobCache() });
await engine.loadPack({ kind: 'demo', preset: 'concept-world' });

/** A styled template needs a style word; plain prompts use the first style's plain wording. */
function fill(template: string, object: string, style = ''): string {
  const text = template.replace('{object}', object).replace('{style}', style).split(/\s+/).filter(Boolean).join(' ');
  return text.replace(/\ba ([aeiou])/g, 'an $1');
}
const styleWord = (s: number) => world.styles[s].words.find((w) => w !== '') ?? world.styles[s].name;

let jobs = 0;
async function draw(e: Engine, prompt: string, seed: number, variant: 'original' | 'edited' = 'original'): Promise<JudgeImage> {
  const image = await e.generate({ jobId: `bench-${jobs++}`, prompt, seed, steps, guidance, scheduler: 'ddim', variant });
  return { width: image.width, height: image.height, rgba: image.rgba };
}
async function judged(judge: Judge, images: JudgeImage[]): Promise<number[]> {
  return (await judge.classify(images)).map((p) => p.indexOf(Math.max(...p)));
}

const started = performance.now();
const names = world.objects.map((o) => o.name);
const confusion = names.map(() => names.map(() => 0));
const classRate: Record<string, number> = {};
const synonymRate: Record<string, number> = {};
/** Seed k uses template k mod T and style floor(k / T) mod S, so the styled template asks for each
 * style in turn: a style index of k mod T too would pair the styled template with one style only
 * (4 templates, 4 styles). */
const classPrompts = (c: number, synonyms: boolean) =>
  Array.from({ length: seeds }, (_, seed) => {
    const templates = world.evaluationTemplates.length;
    const template = world.evaluationTemplates[seed % templates];
    const word = synonyms ? world.objects[c].synonyms[seed % world.objects[c].synonyms.length] : world.objects[c].name;
    return { prompt: fill(template, word, styleWord(Math.floor(seed / templates) % world.styles.length)), seed };
  });
for (let c = 0; c < names.length; c++) {
  const images = [];
  for (const { prompt, seed } of classPrompts(c, false)) images.push(await draw(engine, prompt, seed));
  const answers = await judged(objectJudge, images);
  answers.forEach((a) => confusion[c][a]++);
  classRate[names[c]] = answers.filter((a) => a === c).length / seeds;
  const synImages = [];
  for (const { prompt, seed } of classPrompts(c, true)) synImages.push(await draw(engine, prompt, seed));
  synonymRate[names[c]] = (await judged(objectJudge, synImages)).filter((a) => a === c).length / seeds;
  console.log(`${names[c].padEnd(11)} class ${(classRate[names[c]] * 100).toFixed(0)}%  synonyms ${(synonymRate[names[c]] * 100).toFixed(0)}%`);
}
const styleRate: Record<string, number> = {};
for (let s = 0; s < world.styles.length; s++) {
  const images = [];
  for (let seed = 0; seed < seeds; seed++)
    images.push(await draw(engine, fill('a {style} image showing a {object}', names[seed % names.length], styleWord(s)), seed));
  styleRate[world.styles[s].name] = (await judged(styleJudge, images)).filter((a) => a === s).length / seeds;
}
const unconditional = [];
for (let seed = 0; seed < 2 * seeds; seed++) unconditional.push(await draw(engine, '', seed));
const unconditionalClasses = names.map(() => 0);
for (const a of await judged(objectJudge, unconditional)) unconditionalClasses[a]++;

const erasures = [];
for (const target of eraseClasses) {
  const c = names.indexOf(target);
  if (c < 0) throw new Error(`--erase ${target}: not a concept-world class (${names.join(', ')})`);
  const edit = await engine.erase({
    concepts: { kind: 'object', targets: [{ concept: target }], preserve: names.filter((n) => n !== target).map((concept) => ({ concept })) },
    method: 'uce',
    tokens: 'subject',
  });
  const rates: Record<string, { before: number; after: number }> = {};
  for (let k = 0; k < names.length; k++) {
    const before = [];
    const after = [];
    for (const { prompt, seed } of classPrompts(k, false)) {
      before.push(await draw(engine, prompt, seed, 'original'));
      after.push(await draw(engine, prompt, seed, 'edited'));
    }
    const hit = async (images: JudgeImage[]) => (await judged(objectJudge, images)).filter((a) => a === k).length / seeds;
    rates[names[k]] = { before: await hit(before), after: await hit(after) };
  }
  erasures.push({ erased: target, editId: edit.id, rates });
  await engine.clearEdit();
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
console.log(`\nConcept world, DDIM ${steps} steps, guidance ${guidance}, ${seeds} seeds per class, evaluation templates only`);
console.log('\nConfusion (rows: prompted class, columns: judged class)');
console.table(Object.fromEntries(names.map((n, i) => [n, Object.fromEntries(names.map((m, j) => [m, confusion[i][j]]))])));
console.log(`class accuracy: mean ${(mean(Object.values(classRate)) * 100).toFixed(1)}%, min ${(Math.min(...Object.values(classRate)) * 100).toFixed(0)}%`);
console.log(
  `synonym accuracy: mean ${(mean(Object.values(synonymRate)) * 100).toFixed(1)}%, min ${(Math.min(...Object.values(synonymRate)) * 100).toFixed(0)}%`,
);
console.table(Object.fromEntries(Object.entries(styleRate).map(([k, v]) => [k, { 'judged as that style': `${(v * 100).toFixed(0)}%` }])));
console.log(
  `unconditional (${2 * seeds} seeds): ${unconditionalClasses.filter((n) => n > 0).length} of ${names.length} classes drawn`,
  Object.fromEntries(names.map((n, i) => [n, unconditionalClasses[i]])),
);
for (const e of erasures) {
  console.log(`\nErasing "${e.erased}" (UCE closed form, the other 9 classes preserved; edit ${e.editId.slice(0, 12)}): judged as prompted, before -> after`);
  console.table(
    Object.fromEntries(Object.entries(e.rates).map(([k, v]) => [k, { before: `${(v.before * 100).toFixed(0)}%`, after: `${(v.after * 100).toFixed(0)}%` }])),
  );
}
const seconds = (performance.now() - started) / 1000;
console.log(`\n${jobs} images in ${seconds.toFixed(0)} s`);
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/concept-world.json',
  JSON.stringify(
    { steps, guidance, seeds, confusion, labels: names, classRate, synonymRate, styleRate, unconditionalClasses, erasures, images: jobs, seconds },
    null,
    2,
  ),
);
await objectJudge.release();
await styleJudge.release();
process.exit(0);
