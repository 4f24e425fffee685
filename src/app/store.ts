import { create } from 'zustand';
import type { GpuStatus, KernelCheck } from '../engine/api.ts';

export type SelfTestState =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'done'; checks: KernelCheck[]; ms: number }
  | { state: 'failed'; message: string };

export interface StudioState {
  gpu: GpuStatus | { state: 'connecting' };
  selfTest: SelfTestState;
  /** Non-fatal notices (device lost and restored, ...), newest last. */
  notices: string[];
  setGpu(gpu: GpuStatus): void;
  setSelfTest(selfTest: SelfTestState): void;
  notify(message: string): void;
}

export const useStudio = create<StudioState>((set) => ({
  gpu: { state: 'connecting' },
  selfTest: { state: 'idle' },
  notices: [],
  setGpu: (gpu) => set({ gpu }),
  setSelfTest: (selfTest) => set({ selfTest }),
  notify: (message) => set((state) => ({ notices: [...state.notices.slice(-4), message] })),
}));
