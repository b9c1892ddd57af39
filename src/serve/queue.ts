// The line in front of the engine: requests run one at a time in arrival order, a bounded number wait
// (more are answered "busy"), a request that waits or runs past its deadline is answered "timeout",
// and a request whose client left is dropped before it runs.
import { ServeError } from './errors.ts';

export interface QueueTiming {
  /** Time spent waiting behind other requests (ms). */
  queueMs: number;
  /** Time the job itself ran (ms). */
  runMs: number;
}

interface Job {
  run: () => Promise<unknown>;
  enqueued: number;
  resolve: (v: { value: unknown; timing: QueueTiming }) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

/** A handle to cancel a queued request (its client left). Cancelling a running request only drops
 *  its answer: the engine cannot be interrupted mid-call. */
export interface Ticket<T> {
  done: Promise<{ value: T; timing: QueueTiming }>;
  cancel(): void;
}

export class RequestQueue {
  #waiting: Job[] = [];
  #running: Job | null = null;
  #idle: (() => void)[] = [];

  constructor(readonly maxWaiting: number) {}

  /** Requests waiting (not counting the one running). */
  get waiting(): number {
    return this.#waiting.length;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  /** Queues `run`; the answer is E_BUSY at once when `maxWaiting` requests already wait, and
   *  E_TIMEOUT when it is not finished `timeoutMs` after it was queued. */
  submit<T>(run: () => Promise<T>, timeoutMs: number): Ticket<T> {
    let job!: Job;
    const done = new Promise<{ value: T; timing: QueueTiming }>((resolve, reject) => {
      job = { run, enqueued: performance.now(), resolve: resolve as Job['resolve'], reject, timer: undefined, settled: false };
    });
    if (this.#running !== null && this.#waiting.length >= this.maxWaiting) {
      this.#settle(job, new ServeError('E_BUSY', `the server is busy (${this.#waiting.length} requests waiting)`, 'retry in a moment, or start the server with a larger --max-queue'));
      return { done, cancel: () => {} };
    }
    job.timer = setTimeout(() => {
      this.#drop(job);
      this.#settle(job, new ServeError('E_TIMEOUT', `no answer within ${timeoutMs} ms`, 'the policy is slower than the request timeout; raise it or send fewer concurrent requests'));
    }, timeoutMs);
    this.#waiting.push(job);
    this.#pump();
    return {
      done,
      cancel: () => {
        this.#drop(job);
        this.#settle(job, new ServeError('E_POLICY', 'the request was cancelled', 'none: the client left'));
      },
    };
  }

  /** Resolves when nothing waits or runs. */
  drained(): Promise<void> {
    if (this.#running === null && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #drop(job: Job): void {
    const i = this.#waiting.indexOf(job);
    if (i >= 0) this.#waiting.splice(i, 1);
    this.#checkIdle();
  }

  #settle(job: Job, error: unknown, value?: { value: unknown; timing: QueueTiming }): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (error === undefined) job.resolve(value!);
    else job.reject(error);
  }

  #pump(): void {
    if (this.#running !== null) return;
    const job = this.#waiting.shift();
    if (!job) {
      this.#checkIdle();
      return;
    }
    this.#running = job;
    const started = performance.now();
    const queueMs = started - job.enqueued;
    // After a turn of the event loop: a synchronous engine call blocks it, so frames that arrived
    // meanwhile are read (and queued in order, or refused) and pings answered before the next call.
    void new Promise((resolve) => setImmediate(resolve))
      .then(() => job.run())
      .then(
        (value) => this.#settle(job, undefined, { value, timing: { queueMs, runMs: performance.now() - started } }),
        (error: unknown) => this.#settle(job, error ?? new Error('the policy failed without a reason')),
      )
      .finally(() => {
        this.#running = null;
        this.#pump();
      });
  }

  #checkIdle(): void {
    if (this.#running !== null || this.#waiting.length > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
