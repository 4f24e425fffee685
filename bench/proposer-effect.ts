/**
 * Does the proposer help? On the concept-world model, a closed-form (UCE) edit of a concept
 * ("cat") alone, with the WordNet proposer's corefs, and with its corefs and retains, each judged
 * by the concept world's classifier on the evaluation templates (which the model never saw in
 * training). The corefs and the retains are measured apart because they pull opposite ways:
 * corefs widen what is erased, retains protect what lies near it. The corefs are also checked
 * against the model's own text encoder (Engine.checkCandidates, as `lethe propose --pack`
 * prints it): a coref the encoder puts nearer a retain than the concept is left out.
 *   - Acc_g, the judge's accuracy on the synonym prompts ("a photo of a kitty", ...): the edit
 *     with the proposed corefs should lower it more than the edit of the concept alone;
 *   - per-class accuracy of the proposed retains that are concept-world classes ("dog"): with
 *     the whole proposal they should keep their class;
 *   - Acc_e (the name itself) and Acc_s (every other class) for context.
 *
 *   node bin/run-ts.mjs bench/proposer-effect.ts [--pack public/concept-world/pack]
 *     [--concept cat] [--corefs 10] [--retains 8] [--seeds 4] [--steps 20] [--templates N]
 *
 * Prints the table and writes bench/results/proposer-effect.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { EraseRequest } from '../src/engine/api.ts';
import { createNodeEngine } from '../src/engine/node-engine.ts';
import type { EvaluationRequest } from '../src/evaluation/evaluate.ts';
import { parseConceptWorldLabels } from '../src/evaluation/judges/concept-world-judge.ts';
import type { EvaluationMetrics } from '../src/evaluation/metrics.ts';
import { cifar10Preset, parseConceptWorld } from '../src/evaluation/presets.ts';
import { planPrompts, seedList, type EvaluationProtocol } from '../src/evaluation/protocol.ts';
import { CERTAINTY_WEIGHT } from '../src/erasure/proposer/certainty.ts';
import type { Suggestion } from '../src/erasure/proposer/proposal.ts';
import { propose } from '../src/erasure/proposer/propose.ts';
import { defaultWordNetLoader } from '../src/erasure/proposer/wordnet-loader.ts';
import { WordNetProposer } from '../src/erasure/proposer/wordnet-proposer.ts';

const WORLD_DIR = 'public/concept-world';

const { values } = parseArgs({
  options: {
    pack: { type: 'string', default: join(WORLD_DIR, 'pack') },
    concept: { type: 'string', default: 'cat' },
    corefs: { type: 'string', default: '10' },
    retains: { type: 'string', default: '8' },
    seeds: { type: 'string', default: '4' },
    steps: { type: 'string', default: '20' },
    templates: { type: 'string' },
  },
});
const concept = values.concept!;
const world = parseConceptWorld(JSON.parse(readFileSync(join(WORLD_DIR, 'world.json'), 'utf8')), 'world.json');
const preset = cifar10Preset(world);
if (!preset.classes.some((c) => c.name === concept)) throw new Error(`--concept ${concept}: not a concept-world class (${preset.classes.map((c) => c.name).join(', ')})`);
const templates = preset.templates.slice(0, values.templates ? Number(values.templates) : preset.templates.length);

// 1. What the proposer suggests (the same call the studio and `lethe propose` make).
const proposal = await propose(concept, 'object', { corefs: Number(values.corefs), retains: Number(values.retains) }, new WordNetProposer(defaultWordNetLoader()));
console.log(`proposed corefs: ${proposal.corefs.map((s) => `${s.concept} (${s.certainty})`).join(', ')}`);
console.log(`proposed retains: ${proposal.retains.map((s) => `${s.concept} (${s.certainty})`).join(', ')}`);

// 2. The protocol: every class's name prompts, and the erased class's synonyms (world.json's, not the proposer's).
const protocol: EvaluationProtocol = {
  classes: preset.classes,
  erased: [concept],
  prompts: planPrompts(preset.classes, [concept], templates),
  seeds: seedList(Number(values.seeds)),
  sampling: { steps: Number(values.steps), guidance: 7.5, scheduler: 'ddim', negativePrompt: '' },
};
const judge: EvaluationRequest['judge'] = {
  kind: 'concept-world',
  onnx: new Uint8Array(readFileSync(join(WORLD_DIR, 'judge.onnx'))),
  labels: parseConceptWorldLabels(JSON.parse(readFileSync(join(WORLD_DIR, 'judge.json'), 'utf8')), 'judge.json'),
  file: 'judge.onnx',
};

const engine = await createNodeEngine();
const pack = await engine.loadPack({ kind: 'path', path: resolve(values.pack!) });
console.log(`pack ${pack.id.slice(0, 12)}: ${pack.description}`);
const images = protocol.prompts.length * protocol.seeds.length;
const evaluate = async (label: string, kind: 'original' | 'edited'): Promise<EvaluationMetrics> => {
  const started = performance.now();
  const result = await engine.evaluate({ jobId: `proposer-effect-${label}`, protocol, judge, runs: [{ kind, label }] }, (p) => {
    if (p.done % 10 === 0) process.stderr.write(`\r${label}: ${p.done}/${p.total} images`);
  });
  process.stderr.write(`\r${label}: ${images} images in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  return result.report.runs[0].metrics;
};
// 3. The corefs as this model's text encoder sees them (Engine.checkCandidates, as `lethe propose --pack` prints it).
const check = await engine.checkCandidates({ concept, kind: 'object', candidates: proposal.corefs.map((c) => c.concept), kept: proposal.retains.map((r) => r.concept) });
const confirmed = proposal.corefs.filter((c) => check.candidates.find((k) => k.concept === c.concept)?.confirmed);
console.log(`corefs the model's encoder confirms (nearer "${concept}" than any retain): ${confirmed.map((c) => c.concept).join(', ') || 'none'}`);
console.log(`doubted: ${check.candidates.filter((c) => !c.confirmed).map((c) => `${c.concept} (${c.similarity.toFixed(2)} vs ${c.nearestKept?.concept} ${c.nearestKept?.similarity.toFixed(2)})`).join(', ') || 'none'}`);

const eraseRequest = (corefs: readonly Suggestion[], retains: readonly Suggestion[]): EraseRequest => ({
  concepts: {
    kind: 'object',
    targets: [{ concept, corefs: corefs.map((s) => ({ concept: s.concept, weight: CERTAINTY_WEIGHT[s.certainty] })) }],
    retains: retains.map((s) => ({ concept: s.concept, weight: CERTAINTY_WEIGHT[s.certainty] })),
  },
  method: 'uce',
  tokens: 'subject',
});

// 4. Original; the edit of the concept alone; with every proposed coref; with the confirmed ones; with those and the retains.
const original = await evaluate('original', 'original');
await engine.erase(eraseRequest([], []));
const alone = await evaluate(`${concept} alone`, 'edited');
await engine.erase(eraseRequest(proposal.corefs, []));
const withCorefs = await evaluate(`${concept} + all corefs`, 'edited');
await engine.erase(eraseRequest(confirmed, []));
const withConfirmed = await evaluate(`${concept} + confirmed corefs`, 'edited');
await engine.erase(eraseRequest(confirmed, proposal.retains));
const withProposal = await evaluate(`${concept} + confirmed corefs + retains`, 'edited');
await engine.dispose();

const runs = [
  ['original', original],
  [`${concept} alone`, alone],
  [`${concept} + every proposed coref`, withCorefs],
  [`${concept} + confirmed corefs`, withConfirmed],
  [`${concept} + confirmed corefs and retains`, withProposal],
] as const;
const retainedClasses = proposal.retains.map((s) => s.concept.toLowerCase()).filter((name) => preset.classes.some((c) => c.name === name));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
const header = ['run'.padEnd(38), 'Acc_g syn', 'Acc_e name', 'Acc_s kept', ...retainedClasses.map((c) => `${c} (retain)`)].join('  ');
console.log(`\n${concept}: ${protocol.prompts.length} prompts x ${protocol.seeds.length} seeds, ${protocol.sampling.steps} DDIM steps; top-1 accuracy of the concept-world judge`);
console.log(header);
for (const [label, m] of runs) {
  const perClass = retainedClasses.map((c) => pct(m.perClass.find((p) => p.className === c)?.accuracy.top1 ?? Number.NaN).padStart(c.length + 9));
  console.log([label.padEnd(38), pct(m.generality.top1).padStart(9), pct(m.efficacy.top1).padStart(10), pct(m.specificity.top1).padStart(10), ...perClass].join('  '));
}
const compare = (label: string, m: EvaluationMetrics) => {
  const lowered = alone.generality.top1 - m.generality.top1;
  console.log(`synonym accuracy ${label} vs the concept alone: ${pct(m.generality.top1)} vs ${pct(alone.generality.top1)} (${lowered > 0 ? 'lower by' : 'NOT lower; difference'} ${(100 * lowered).toFixed(1)} points)`);
};
console.log('');
compare('with every proposed coref', withCorefs);
compare('with the corefs the encoder confirms', withConfirmed);
compare('with the confirmed corefs and the retains (the studio default)', withProposal);
for (const c of retainedClasses) {
  const before = original.perClass.find((p) => p.className === c)!.accuracy.top1;
  const after = withProposal.perClass.find((p) => p.className === c)!.accuracy.top1;
  console.log(`retained class ${c}: ${pct(before)} before, ${pct(after)} after the edit with the proposal`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/proposer-effect.json',
  `${JSON.stringify({ command: ['node bin/run-ts.mjs bench/proposer-effect.ts', ...process.argv.slice(2)].join(' '), pack: pack.id, concept, proposal, encoderCheck: check, protocol: { prompts: protocol.prompts.length, seeds: protocol.seeds, sampling: protocol.sampling }, runs: Object.fromEntries(runs) }, null, 2)}\n`,
);
console.log('-> bench/results/proposer-effect.json');
