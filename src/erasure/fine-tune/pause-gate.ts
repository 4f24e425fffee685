/** Pause/resume between training steps: the loop awaits wait() before each step. */
export class PauseGate {
  private resumeWaiters: (() => void)[] = [];
  private paused = false;

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const wake of this.resumeWaiters.splice(0)) wake();
  }

  /** Resolves at once when running; when paused, on resume() (or rejects when `signal` aborts). */
  wait(signal?: AbortSignal): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.resumeWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
