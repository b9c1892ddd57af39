// Server-side liveness of WebSocket clients (RELIABILITY T5.1): every interval the server pings each
// connection, and a connection that missed `maxMissed` pongs in a row is reported dead (the server
// terminates it, which frees its session). Anything heard from the client — a pong, a frame, a ping —
// proves it alive. A ping is judged only from pongs the server could have read: the judgement runs
// after a turn of the event loop, and a ping sent too recently before that turn (the engine held the
// thread meanwhile) is left for the next round, so a client is never judged by the server's own delays.
import { UsageError } from '../errors/index.ts';

/** What the heartbeat needs of a connection. */
export interface Pingable {
  ping(): void;
  /** Whether the connection is open (a closing one is neither pinged nor judged). */
  readonly open: boolean;
}

export interface HeartbeatOptions<T extends Pingable> {
  /** Milliseconds between pings; 0 sends none. */
  intervalMs: number;
  /** Pongs missed in a row before `onDead` (at least 1). */
  maxMissed: number;
  /** Told once of each connection that missed `maxMissed` pongs; it should close it. */
  onDead: (connection: T, missed: number) => void;
}

interface Beat {
  /** performance.now() when the unanswered ping went out (null: none is outstanding). */
  pingAt: number | null;
  missed: number;
}

export class Heartbeat<T extends Pingable> {
  readonly #beats = new Map<T, Beat>();
  readonly #timer: NodeJS.Timeout | null;

  constructor(readonly options: HeartbeatOptions<T>) {
    if (!(options.intervalMs >= 0) || !(Number.isInteger(options.maxMissed) && options.maxMissed >= 1))
      throw new UsageError(
        `pings every ${options.intervalMs} ms, ${options.maxMissed} missed pongs: give an interval of 0 ms or more and a whole number of pongs from 1`,
      );
    this.#timer = options.intervalMs > 0 ? setInterval(() => this.#tick(), options.intervalMs) : null;
    this.#timer?.unref();
  }

  get size(): number {
    return this.#beats.size;
  }

  add(connection: T): void {
    this.#beats.set(connection, { pingAt: null, missed: 0 });
  }

  delete(connection: T): void {
    this.#beats.delete(connection);
  }

  /** The client showed it is alive (a pong, a frame or a ping of its own). */
  heard(connection: T): void {
    const beat = this.#beats.get(connection);
    if (!beat) return;
    beat.pingAt = null;
    beat.missed = 0;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** When the interval comes due the engine may have held the thread: pongs that arrived meanwhile
   *  are still unread. They are read in the poll phase of this turn of the event loop, which comes
   *  after this timer and before the immediate; so the judgement waits for it. */
  #tick(): void {
    const dueAt = performance.now();
    setImmediate(() => this.judge(dueAt));
  }

  /** Judges every connection from what was read up to now, when everything that arrived before
   *  `readFrom` has been read: a ping sent less than half an interval before `readFrom` is not judged
   *  yet (its pong may be in flight or unread), an older one unanswered is a miss; then each
   *  connection without an outstanding ping gets one. */
  judge(readFrom: number): void {
    const grace = this.options.intervalMs / 2;
    for (const [connection, beat] of this.#beats) {
      if (!connection.open) continue;
      if (beat.pingAt !== null) {
        if (beat.pingAt + grace > readFrom) continue;
        beat.missed++;
        if (beat.missed >= this.options.maxMissed) {
          this.#beats.delete(connection);
          this.options.onDead(connection, beat.missed);
          continue;
        }
      }
      beat.pingAt = performance.now();
      connection.ping();
    }
  }
}
