// RemotePolicy: a Policy served by `vlm2vla serve` (or any openpi-protocol server) over WebSocket.
// Importable as `vlm2vla/client` without the engine: it loads only ws, msgpack and the protocol.
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import type { ActionSemantics } from '../data/episode.ts';
import { SemanticsError } from '../errors/index.ts';
import type { Observation, Policy, PolicyMetadata, PolicyResult } from '../policy/types.ts';
import { ProtocolError, RemoteError } from './errors.ts';
import { observationMessage, parseResult } from './protocol.ts';
import type { ServerTiming } from './protocol.ts';
import { fromWire, packMessage, unpackMessage } from './wire.ts';
import type { WireValue } from './wire.ts';

export { ProtocolError, RemoteError } from './errors.ts';
export type { ServerTiming } from './protocol.ts';

export interface RemotePolicyOptions {
  /** Sent as `Authorization: Api-Key <key>`. */
  apiKey?: string;
  /** Longest wait for one answer, connecting included (default 120 s). */
  timeoutMs?: number;
  /** The action semantics the caller executes; a server declaring others is refused (E_SEMANTICS). */
  expectSemantics?: ActionSemantics;
}

/** The first field of the server's action semantics that differs from the expected ones. */
function semanticsMismatch(expected: ActionSemantics, got: Record<string, unknown>): string | null {
  for (const key of ['frame', 'translationUnit', 'rotationUnit', 'actionDims', 'stateDims', 'gripperOpen', 'controlHz'] as const) {
    if (JSON.stringify(got[key]) !== JSON.stringify(expected[key]))
      return `${key}: the server declares ${JSON.stringify(got[key])}, the caller expects ${JSON.stringify(expected[key])}`;
  }
  return null;
}

interface Pending {
  resolve: (v: WireValue) => void;
  reject: (e: unknown) => void;
}

/** One WebSocket connection: the metadata frame, then one answer per message sent. */
class Connection {
  #pending: Pending | null = null;
  #closed: RemoteError | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const p = this.#pending;
      this.#pending = null;
      if (!p) return;
      if (!isBinary) {
        // The server closes the connection after an error frame; the next call opens a new one.
        this.#closed = new RemoteError(`the server answered: ${data.toString()}`, 'see the server log; the next call reconnects');
        return p.reject(this.#closed);
      }
      try {
        p.resolve(unpackMessage(Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data));
      } catch (e) {
        p.reject(e);
      }
    });
    ws.on('close', (code, reason) => {
      this.#closed ??= new RemoteError(
        `the server closed the connection (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`,
        code === 1009 ? 'the observation is larger than the server accepts; send smaller images' : 'the next call reconnects',
      );
      this.#pending?.reject(this.#closed);
      this.#pending = null;
    });
    ws.on('error', () => {}); // a close follows
  }

  get open(): boolean {
    return this.#closed === null && this.ws.readyState === WebSocket.OPEN;
  }

  static async open(url: string, options: RemotePolicyOptions): Promise<{ connection: Connection; metadata: WireValue }> {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: 0,
      handshakeTimeout: options.timeoutMs ?? 120_000,
      ...(options.apiKey ? { headers: { Authorization: `Api-Key ${options.apiKey}` } } : {}),
    });
    const connection = new Connection(ws);
    const metadata = connection.#expect(options.timeoutMs ?? 120_000);
    metadata.catch(() => {}); // when the handshake fails, its error is the one reported
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        const refused = () => {
          reject(
            new RemoteError(
              `the server refused the connection (HTTP ${res.statusCode}): ${body.trim()}`,
              res.statusCode === 401 ? 'pass the API key the server expects' : 'check the URL and the server log',
            ),
          );
          ws.terminate();
        };
        res.on('end', refused);
        res.on('error', refused);
      });
      ws.once('error', (e) =>
        reject(new RemoteError(`cannot connect to ${url}: ${e.message}`, 'start the server (vlm2vla serve) and check the URL', e)),
      );
    });
    return { connection, metadata: await metadata };
  }

  #expect(timeoutMs: number): Promise<WireValue> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        reject(new RemoteError(`no answer within ${timeoutMs} ms`, 'the server is slow or gone; raise timeoutMs or check it'));
        this.ws.terminate();
      }, timeoutMs);
      this.#pending = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  request(message: WireValue, timeoutMs: number): Promise<WireValue> {
    const answer = this.#expect(timeoutMs);
    if (this.open) this.ws.send(packMessage(message));
    return answer;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}

export class RemotePolicy implements Policy {
  #connection: Connection | null;
  #chain: Promise<unknown> = Promise.resolve();
  #lastTiming: ServerTiming | null = null;

  private constructor(
    readonly url: string,
    readonly metadata: PolicyMetadata,
    connection: Connection,
    readonly options: RemotePolicyOptions,
  ) {
    this.#connection = connection;
  }

  /** Connects and reads the server's metadata (the policy's name, action semantics and limits). */
  static async connect(url: string, options: RemotePolicyOptions = {}): Promise<RemotePolicy> {
    const { connection, metadata } = await Connection.open(url, options);
    const meta = fromWire(metadata);
    if (
      typeof meta !== 'object' ||
      meta === null ||
      typeof (meta as PolicyMetadata).name !== 'string' ||
      typeof (meta as PolicyMetadata).semantics !== 'object'
    ) {
      await connection.close();
      throw new ProtocolError(
        'the server metadata has no policy name and action semantics',
        'metadata',
        'connect to a vlm2vla server (vlm2vla serve), or one whose metadata follows docs/serve.md',
      );
    }
    const mismatch = options.expectSemantics
      ? semanticsMismatch(options.expectSemantics, (meta as PolicyMetadata).semantics as unknown as Record<string, unknown>)
      : null;
    if (mismatch) {
      await connection.close();
      throw new SemanticsError('E_SEMANTICS', `the served policy's actions mean something else (${mismatch})`, {
        field: 'metadata.semantics',
        fix: 'serve a policy trained for this robot, or convert its actions explicitly',
      });
    }
    // Named `remote`, as every policy names its kind; what the server runs stays in `served`.
    const served = meta as PolicyMetadata;
    return new RemotePolicy(url, { ...served, name: 'remote', served: served.name, server: url }, connection, options);
  }

  /** The server's timing of the last answer (infer_ms, queue_ms, prev_total_ms). */
  get lastServerTiming(): ServerTiming | null {
    return this.#lastTiming;
  }

  async #send(message: WireValue): Promise<WireValue> {
    if (!this.#connection || !this.#connection.open) this.#connection = (await Connection.open(this.url, this.options)).connection;
    return this.#connection.request(message, this.options.timeoutMs ?? 120_000);
  }

  /** Calls run one at a time, in order (the protocol answers one message at a time). */
  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(run, run);
    this.#chain = next.catch(() => {});
    return next;
  }

  reset(instruction: string): Promise<void> {
    return this.#serial(async () => {
      const answer = await this.#send(
        new Map<string, WireValue>([
          ['reset', true],
          ['prompt', instruction],
        ]),
      );
      if (!(answer instanceof Map) || answer.get('reset') !== true)
        throw new ProtocolError('the server did not acknowledge the reset', 'reset', 'connect to a vlm2vla server');
    });
  }

  infer(observation: Observation): Promise<PolicyResult> {
    return this.#serial(async () => {
      const started = performance.now();
      const { result, serverTiming } = parseResult(await this.#send(observationMessage(observation)));
      this.#lastTiming = serverTiming;
      result.timing = {
        totalMs: performance.now() - started,
        stages: { ...result.timing.stages, server: serverTiming.inferMs, queue: serverTiming.queueMs ?? 0 },
      };
      return result;
    });
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#connection?.close();
    this.#connection = null;
  }
}
