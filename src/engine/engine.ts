import type { EngineApi, EngineEvent, GpuStatus, KernelCheck } from './api.ts';
import { GpuContext } from '../gpu/context.ts';
import { acquireDevice, adapterProblems, WebGpuUnavailableError, type AdapterReport } from '../gpu/device.ts';
import { selfTest } from '../gpu/self-test.ts';

/** Supplies the platform's GPU entry point: navigator.gpu in browsers, Dawn in Node. */
export type GpuProvider = () => Promise<GPU | undefined | null>;

/**
 * Owns the GPUDevice and everything on it. One per worker (browser) or process (CLI).
 * A lost device is reported to subscribers and re-acquired on the next call.
 */
export class Engine implements EngineApi {
  private context: GpuContext | null = null;
  private report: AdapterReport | null = null;
  private acquiring: Promise<GpuStatus> | null = null;
  private lastStatus: GpuStatus | null = null;
  private readonly listeners = new Set<(event: EngineEvent) => void>();

  constructor(private readonly gpuProvider: GpuProvider) {}

  init(): Promise<GpuStatus> {
    if (this.context && !this.context.isLost && this.lastStatus) return Promise.resolve(this.lastStatus);
    this.acquiring ??= this.acquire().finally(() => {
      this.acquiring = null;
    });
    return this.acquiring;
  }

  async status(): Promise<GpuStatus> {
    return this.lastStatus ?? this.init();
  }

  async selfTest(): Promise<KernelCheck[]> {
    return selfTest(await this.gpu());
  }

  async subscribe(listener: (event: EngineEvent) => void): Promise<void> {
    this.listeners.add(listener);
  }

  /** The live context, re-acquiring the device after a loss. */
  async gpu(): Promise<GpuContext> {
    const status = await this.init();
    if (status.state !== 'ready' || !this.context) throw new WebGpuUnavailableError(status.state === 'unavailable' ? status.message : 'no GPU', status.state === 'unavailable' ? status.advice : []);
    return this.context;
  }

  dispose(): void {
    this.context?.destroy();
    this.context = null;
  }

  private async acquire(): Promise<GpuStatus> {
    const recovering = this.context?.isLost === true;
    try {
      const { device, report } = await acquireDevice(await this.gpuProvider());
      this.context = new GpuContext(device);
      this.report = report;
      this.context.onDeviceLost((info) => this.emit({ type: 'device-lost', reason: info.reason, message: info.message }));
      this.lastStatus = { state: 'ready', report, problems: adapterProblems(report) };
      if (recovering) this.emit({ type: 'device-restored', report });
    } catch (error) {
      this.context = null;
      this.lastStatus =
        error instanceof WebGpuUnavailableError
          ? { state: 'unavailable', message: error.message, advice: error.advice }
          : { state: 'unavailable', message: `WebGPU device could not be created: ${(error as Error).message}`, advice: [] };
    }
    return this.lastStatus;
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  get adapter(): AdapterReport | null {
    return this.report;
  }
}
