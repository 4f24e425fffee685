import * as Comlink from 'comlink';
import type { Proposal, ProposerProgress } from '../erasure/proposer/proposal.ts';
import { propose } from '../erasure/proposer/propose.ts';
import { PromptApiProposer } from '../erasure/proposer/prompt-api-proposer.ts';
import type { ProposeCall, ProposerServiceApi } from '../erasure/proposer/proposer-service.ts';

/**
 * The UI's handle on the concept proposer. WordNet and hub models run in the proposer worker
 * (created on the first "Suggest"); Chrome's built-in model is a browser API and is called here.
 */
let worker: Comlink.Remote<ProposerServiceApi> | null = null;

function proposerWorker(): Comlink.Remote<ProposerServiceApi> {
  if (!worker) worker = Comlink.wrap<ProposerServiceApi>(new Worker(new URL('../../workers/proposer.worker.ts', import.meta.url), { type: 'module', name: 'lethe-proposer' }));
  return worker;
}

export async function requestProposal(call: ProposeCall, onProgress: (progress: ProposerProgress) => void): Promise<Proposal> {
  if (call.backend.kind === 'prompt-api') return propose(call.concept, call.kind, { corefs: call.corefs, retains: call.retains }, new PromptApiProposer(), { onProgress });
  return proposerWorker().propose(call, Comlink.proxy(onProgress));
}
