// The line in front of the engine: requests run one at a time; each waits in its client's lane (a
// session, or for HTTP routes without one the peer's address) and lanes take turns round-robin, so
// one client with many requests cannot starve the others. A bounded number wait in all (more are
// answered "busy"), and one lane may hold only its share of them; a request that waits or runs past
// its deadline is answered "timeout", and a request whose client left is dropped before it runs.
import { ServeError } from './errors.ts';

export interface QueueTiming {
  /** Time spent waiting behind other requests (ms). */
  queueMs: number;
  /** Time the job itself ran (ms). */
  runMs: number;
}

interface Job {
  run: () => Promise<unknown>;
  lane: string;
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

/** The share of the waiting places one lane may hold: a quarter, at least one. */
export const laneShare = (maxWaiting: number) => Math.max(1, Math.ceil(maxWaiting / 4));

export class RequestQueue {
  /** Waiting jobs per lane; the map's order is the turn order (the lane served last goes to the back). */
  #lanes = new Map<string, Job[]>();
  #waiting = 0;
  #running: Job | null = null;
  #idle: (() => void)[] = [];

  constructor(
    readonly maxWaiting: number,
    readonly maxPerLane = laneShare(maxWaiting),
  ) {}

  /** Requests waiting (not counting the one running). */
  get waiting(): number {
    return this.#waiting;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  /** Queues `run` in `lane`; the answer is E_BUSY at once when `maxWaiting` requests already wait
   *  (or `maxPerLane` in this lane), and E_TIMEOUT when it is not finished `timeoutMs` after it was
   *  queued. */
  submit<T>(run: () => Promise<T>, timeoutMs: number, lane = ''): Ticket<T> {
    let job!: Job;
    const done = new Promise<{ value: T; timing: QueueTiming }>((resolve, reject) => {
      job = { run, lane, enqueued: performance.now(), resolve: resolve as Job['resolve'], reject, timer: undefined, settled: false };
    });
    const inLane = this.#lanes.get(lane)?.length ?? 0;
    if (this.#running !== null && (this.#waiting >= this.maxWaiting || inLane >= this.maxPerLane)) {
      const full = this.#waiting >= this.maxWaiting;
      this.#settle(
        job,
        full
          ? new ServeError(
              'E_BUSY',
              `the server is busy (${this.#waiting} requests waiting)`,
              'retry in a moment, or start the server with a larger --max-queue',
            )
          : new ServeError(
              'E_BUSY',
              `this client already has ${inLane} requests waiting (at most ${this.maxPerLane} of the queue's ${this.maxWaiting} places)`,
              'send fewer requests at once, or start the server with a larger --max-queue',
            ),
      );
      return { done, cancel: () => {} };
    }
    job.timer = setTimeout(() => {
      this.#drop(job);
      this.#settle(
        job,
        new ServeError(
          'E_TIMEOUT',
          `no answer within ${timeoutMs} ms`,
          'the policy is slower than the request timeout; raise it or send fewer concurrent requests',
        ),
      );
    }, timeoutMs);
    const jobs = this.#lanes.get(lane);
    if (jobs) jobs.push(job);
    else this.#lanes.set(lane, [job]);
    this.#waiting++;
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
    if (this.#running === null && this.#waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #drop(job: Job): void {
    const jobs = this.#lanes.get(job.lane);
    const i = jobs ? jobs.indexOf(job) : -1;
    if (i >= 0) {
      jobs!.splice(i, 1);
      this.#waiting--;
      if (jobs!.length === 0) this.#lanes.delete(job.lane);
    }
    this.#checkIdle();
  }

  #settle(job: Job, error: unknown, value?: { value: unknown; timing: QueueTiming }): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (error === undefined) job.resolve(value!);
    else job.reject(error);
  }

  /** The next job: the head of the first lane in turn; that lane, if it still waits, goes to the back. */
  #next(): Job | undefined {
    const first = this.#lanes.entries().next();
    if (first.done) return undefined;
    const [lane, jobs] = first.value;
    const job = jobs.shift()!;
    this.#waiting--;
    this.#lanes.delete(lane);
    if (jobs.length > 0) this.#lanes.set(lane, jobs);
    return job;
  }

  #pump(): void {
    if (this.#running !== null) return;
    const job = this.#next();
    if (!job) {
      this.#checkIdle();
      return;
    }
    this.#running = job;
    const started = performance.now();
    const queueMs = started - job.enqueued;
    // After a turn of the event loop: a synchronous engine call blocks it, so frames that arrived
    // meanwhile are read (and queued in their lanes, or refused) and pings answered before the next call;
    // a job cancelled or timed out during that turn does not run.
    void new Promise((resolve) => setImmediate(resolve))
      .then(() => (job.settled ? undefined : job.run()))
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
    if (this.#running !== null || this.#waiting > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
