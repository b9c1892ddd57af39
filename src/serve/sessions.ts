// Client sessions of the policy server: each WebSocket connection, and each named session of POST
// /v1/act, is one session with its own episode. With a PolicyFactory a session owns its policy
// (subtasks, cycle count, verifier state, the back-end's KV cache; the model's weights are shared),
// so clients never disturb each other. With one shared Policy the episode restarts whenever another
// session ran on it in between (it holds one episode at a time). A cap bounds the sessions alive; a
// session with no request for the idle time is evicted and its policy freed. An episode restarts on a
// new prompt, on reset, and after the policy answered done.
import type { Observation, Policy, PolicyFactory, PolicyResult } from '../policy/types.ts';
import { ServeError } from './errors.ts';

export interface Session {
  readonly id: string;
  /** Who the session belongs to, for log lines (the peer, or the HTTP session's name). */
  readonly label: string;
  instruction: string | null;
  resetPending: boolean;
  /** performance.now() when a request of the session last arrived or finished. */
  usedAt: number;
  /** Requests of the session waiting or running; a session is never evicted while it has one. */
  pending: number;
  /** Its own policy (factory mode), made at its first observation. */
  policy: Policy | null;
  /** Closed while a request was pending: freed when the last one settles. */
  closed: boolean;
}

export interface SessionOptions {
  /** Sessions alive at once; one more is refused with E_SESSION_LIMIT. */
  maxSessions: number;
  /** A session with no request for this long is evicted (ms). */
  idleMs: number;
  /** Told of every session evicted for idleness. */
  onEvict?: (session: Session) => void;
  /** Told when closing a session's policy fails (its error is not the client's). */
  onCloseError?: (session: Session, error: unknown) => void;
}

export class SessionTable {
  readonly #sessions = new Map<string, Session>();
  readonly #shared: Policy | null;
  readonly #factory: PolicyFactory | null;
  /** Shared mode: the session whose episode the policy holds. */
  #active: Session | null = null;

  constructor(
    source: { policy: Policy } | { factory: PolicyFactory },
    readonly options: SessionOptions,
  ) {
    this.#shared = 'policy' in source ? source.policy : null;
    this.#factory = 'factory' in source ? source.factory : null;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Whether each session has a policy of its own. */
  get independent(): boolean {
    return this.#factory !== null;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /** The session `id`, opened if it is not alive (a new episode). Idle sessions are evicted first;
   *  when `maxSessions` are still alive the answer is E_SESSION_LIMIT. */
  open(id: string, label: string, now = performance.now()): Session {
    const known = this.#sessions.get(id);
    if (known) {
      known.usedAt = now;
      return known;
    }
    if (this.#sessions.size >= this.options.maxSessions) this.sweep(now);
    if (this.#sessions.size >= this.options.maxSessions) {
      const next = this.#nextExpiry(now);
      throw new ServeError(
        'E_SESSION_LIMIT',
        `${this.options.maxSessions} sessions are open${next === null ? ', all with requests in flight' : `; the next idle one expires in ${Math.ceil(next / 1000)} s`}`,
        `retry later, close clients you no longer use, or start the server with a larger --max-sessions (sessions expire after ${Math.round(this.options.idleMs / 1000)} s without a request)`,
      );
    }
    const session: Session = { id, label, instruction: null, resetPending: true, usedAt: now, pending: 0, policy: null, closed: false };
    this.#sessions.set(id, session);
    return session;
  }

  /** Milliseconds until the first idle session expires (null: every session has a request pending). */
  #nextExpiry(now: number): number | null {
    let next: number | null = null;
    for (const s of this.#sessions.values()) {
      if (s.pending > 0) continue;
      const left = Math.max(0, s.usedAt + this.options.idleMs - now);
      if (next === null || left < next) next = left;
    }
    return next;
  }

  /** Seconds a refused client should wait before it tries again (for HTTP's Retry-After). */
  retryAfterSeconds(now = performance.now()): number {
    const next = this.#nextExpiry(now);
    return Math.max(1, Math.ceil((next ?? this.options.idleMs) / 1000));
  }

  /** Marks an explicit reset; it takes effect at the session's next observation. */
  reset(session: Session, instruction?: string): void {
    session.resetPending = true;
    if (instruction !== undefined) session.instruction = instruction;
  }

  /** Runs one request of `session`: it counts as activity, and the session stays alive until it settles. */
  async request<T>(session: Session, work: () => Promise<T>): Promise<T> {
    session.pending++;
    session.usedAt = performance.now();
    try {
      return await work();
    } finally {
      session.pending--;
      session.usedAt = performance.now();
      if (session.closed && session.pending === 0) this.#free(session);
    }
  }

  /** One cycle of the session's episode; call it from the request queue (one at a time). */
  async infer(session: Session, observation: Observation, reset: boolean): Promise<PolicyResult> {
    if (reset || observation.instruction !== session.instruction) this.reset(session, observation.instruction);
    const policy = (session.policy ??= this.#shared ?? this.#factory!.create());
    if (session.resetPending || (this.#shared !== null && this.#active !== session)) {
      this.#active = null;
      await policy.reset(observation.instruction);
      session.resetPending = false;
      this.#active = session;
    }
    const result = await policy.infer(observation);
    // A finished episode has nothing more to give: the session's next observation starts a new one
    // (openpi's client sends nothing between episodes, and a robot's next episode often has the same prompt).
    if (result.done === true) session.resetPending = true;
    return result;
  }

  /** The session's client left: its state is freed now, or when its request in flight settles. */
  close(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    session.closed = true;
    if (session.pending === 0) this.#free(session);
  }

  /** Evicts every session idle for `idleMs` or more; returns them. */
  sweep(now = performance.now()): Session[] {
    const evicted: Session[] = [];
    for (const s of this.#sessions.values()) {
      if (s.pending === 0 && now - s.usedAt >= this.options.idleMs) evicted.push(s);
    }
    for (const s of evicted) {
      this.close(s.id);
      this.options.onEvict?.(s);
    }
    return evicted;
  }

  /** Frees every session (the server is closing). */
  closeAll(): void {
    for (const id of [...this.#sessions.keys()]) this.close(id);
  }

  #free(session: Session): void {
    if (this.#active === session) this.#active = null;
    const policy = session.policy;
    session.policy = null;
    if (policy === null || policy === this.#shared) return;
    void Promise.resolve()
      .then(() => policy.close?.())
      .catch((e: unknown) => this.options.onCloseError?.(session, e));
  }
}
