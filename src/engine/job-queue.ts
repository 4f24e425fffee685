/**
 * Runs GPU jobs one at a time. ORT sessions take one run() at a time, and interleaving two
 * generations would only slow both; cancellation does not wait in this queue.
 */
export class JobQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
