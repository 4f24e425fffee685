import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CliCommand } from '../command.ts';
import { UsageError } from '../command.ts';
import { choiceFlag, integerFlag, parseFlags } from '../flags.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { CONCEPT_KINDS, type ConceptKind } from '../../erasure/concept-sets.ts';
import { backendChoiceId, parseBackendChoice } from '../../erasure/proposer/backends.ts';
import { formatEncoderCheck, formatProposal } from '../../erasure/proposer/format.ts';
import type { ProposerBackend } from '../../erasure/proposer/proposal.ts';
import { propose } from '../../erasure/proposer/propose.ts';
import { TransformersProposer } from '../../erasure/proposer/transformers-proposer.ts';
import { defaultWordNetLoader } from '../../erasure/proposer/wordnet-loader.ts';
import { WordNetProposer } from '../../erasure/proposer/wordnet-proposer.ts';
import { InputError } from '../../util/errors.ts';

/** The studio's defaults, so both print the same list when nothing is given. */
export const DEFAULT_COREFS = 10;
export const DEFAULT_RETAINS = 8;

export const proposeCommand: CliCommand = {
  name: 'propose',
  summary: 'suggest coreferential and retained concepts for a concept, each with a certainty',
  usage:
    'lethe propose CONCEPT [--kind object|style|person] [--backend wordnet|transformers:HUB_ID] [--corefs M] [--retains N] [--json] [--endpoint URL] (hub mirror for transformers) [--pack P] (check the corefs against the text encoder of P)',
  async run(args) {
    const { values, positionals } = parseFlags(
      args,
      { kind: { type: 'string' }, backend: { type: 'string' }, corefs: { type: 'string' }, retains: { type: 'string' }, json: { type: 'boolean' }, endpoint: { type: 'string' }, pack: { type: 'string' } },
      true,
    );
    const concept = positionals.join(' ').trim();
    if (concept === '') throw new UsageError('give the CONCEPT to propose corefs and retains for');
    const kind: ConceptKind = choiceFlag(values.kind, '--kind', CONCEPT_KINDS, 'object');
    if (values.pack !== undefined) checkPackArg(values.pack);
    const corefs = integerFlag(values.corefs, '--corefs', DEFAULT_COREFS, 0, 32);
    const retains = integerFlag(values.retains, '--retains', DEFAULT_RETAINS, 0, 32);
    let choice;
    try {
      choice = parseBackendChoice(values.backend ?? 'wordnet');
    } catch (error) {
      throw new UsageError(`--${(error as Error).message}`);
    }
    let backend: ProposerBackend;
    if (choice.kind === 'wordnet') backend = new WordNetProposer(defaultWordNetLoader());
    else if (choice.kind === 'transformers') {
      // Next to the pack cache, not inside node_modules where transformers.js would put it.
      const cacheDir = join(process.env.LETHE_CACHE_DIR || join(homedir(), '.cache', 'lethe'), 'transformers');
      backend = new TransformersProposer(choice.hubId, { cacheDir, ...(values.endpoint ? { endpoint: values.endpoint } : {}) });
    }
    else throw new InputError(`--backend ${backendChoiceId(choice)}: Chrome's built-in model exists only in the browser; use wordnet or transformers:HUB_ID here`);
    const quiet = values.json === true;
    let lastFile = '';
    const proposal = await propose(concept, kind, { corefs, retains }, backend, {
      onProgress: (p) => {
        if (quiet) return;
        if (p.phase === 'download' && p.file !== lastFile) {
          lastFile = p.file ?? '';
          console.error(p.message);
        } else if (p.phase !== 'download') console.error(p.message);
      },
    });
    if (values.pack === undefined) {
      console.log(quiet ? JSON.stringify(proposal, null, 2) : formatProposal(proposal));
      return 0;
    }
    const { createNodeEngine } = await import('../../engine/node-engine.ts');
    const engine = await createNodeEngine();
    try {
      const pack = await engine.loadPack(packSpecFromArg(values.pack));
      const check = await engine.checkCandidates({ concept: proposal.concept, kind, candidates: proposal.corefs.map((c) => c.concept), kept: proposal.retains.map((r) => r.concept) });
      console.log(quiet ? JSON.stringify({ ...proposal, encoderCheck: { pack: pack.id, ...check } }, null, 2) : `${formatProposal(proposal)}\n${formatEncoderCheck(check, `pack ${pack.id.slice(0, 12)}`)}`);
    } finally {
      await engine.dispose();
    }
    return 0;
  },
};
