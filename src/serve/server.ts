// The policy server: openpi's WebSocket protocol (metadata frame on connect, one msgpack observation
// in, one msgpack result out, errors as a text frame then close 1011), GET /healthz, POST /v1/act
// (JSON), GET /v1/metadata and extra routes (the OpenAI-compatible chat endpoint), with the safe
// defaults of docs/serve.md: loopback bind, Host/Origin check, optional API key, size caps, a bounded
// queue fair between clients, timeouts, pings that find dead clients, connection and session caps, and
// a graceful close that answers requests in flight. Each client session has its own episode (sessions.ts).
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createHash, timingSafeEqual } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { UsageError, isVlmError } from '../errors/index.ts';
import type { Policy, PolicyFactory, PolicyResult } from '../policy/types.ts';
import { actResultJson, parseActJson } from './act-json.ts';
import { SessionTable } from './sessions.ts';
import type { Session } from './sessions.ts';
import { ProtocolError, ServeError } from './errors.ts';
import { DEFAULT_OBSERVATION_LIMITS, metadataMessage, parseRequest, resultMessage } from './protocol.ts';
import { MAX_MESSAGE_BYTES, packMessage, unpackMessage } from './wire.ts';
import type { ObservationLimits } from './protocol.ts';
import { Heartbeat } from './liveness.ts';
import { RequestQueue } from './queue.ts';
import type { QueueTiming } from './queue.ts';

export interface ServeOptions {
  /** Makes each client session its own policy over the shared model: clients' episodes are
   *  independent. Give this or `policy`. */
  policyFactory?: PolicyFactory;
  /** One policy for every client: it holds one episode at a time, so a client's episode restarts
   *  whenever another client's request ran in between. */
  policy?: Policy;
  /** Interface to bind (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** When set, every request but /healthz needs `Authorization: Api-Key <key>` (or `Bearer <key>`). */
  apiKey?: string;
  /** Requests that may wait behind the running one before new ones are answered E_BUSY (default 16). */
  maxQueue?: number;
  /** Open WebSocket connections (default 64). */
  maxConnections?: number;
  /** Client sessions alive at once (WebSocket connections that sent a request, HTTP sessions);
   *  one more is answered E_SESSION_LIMIT (default 64). */
  maxSessions?: number;
  /** A session with no request this long is evicted and its episode freed (default 300 s). */
  sessionIdleMs?: number;
  /** Largest WebSocket frame (closed with 1009) and HTTP body (413) (default 16 MiB). */
  maxMessageBytes?: number;
  /** A request not answered this long after it arrived is answered E_TIMEOUT (default 120 s). */
  requestTimeoutMs?: number;
  /** A WebSocket connection that sends nothing this long is closed (default 600 s). */
  idleTimeoutMs?: number;
  /** The server pings every WebSocket client this often (default 10 s; 0 sends no pings). */
  pingIntervalMs?: number;
  /** A client that leaves this many pings in a row unanswered (no pong, nor any frame) is
   *  disconnected and its session freed (default 2). */
  maxMissedPongs?: number;
  /** An HTTP request's headers must arrive within this (default 10 s), its whole body within six
   *  times this; slower clients get 408 and are closed (checked every second). */
  headersTimeoutMs?: number;
  limits?: ObservationLimits;
  /** Error messages to clients carry the stack trace (never by default). */
  debug?: boolean;
  /** One line per request (default: stdout). */
  log?: (line: string) => void;
  /** More HTTP routes, keyed "METHOD /path" (the OpenAI-compatible endpoint). */
  routes?: Record<string, RouteHandler>;
}

/** What an extra route gets: its request, its response, and the line in front of the engine. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The JSON body (size-capped). */
  json(): Promise<unknown>;
  /** Runs `job` through the request queue (busy, timeout) in the lane of the peer's address (or
   *  `lane`); the job is dropped if the client leaves. */
  submit<T>(job: () => Promise<T>, lane?: string): Promise<{ value: T; timing: QueueTiming }>;
  /** Adds a note to the request's log line. */
  note(text: string): void;
}
export type RouteHandler = (ctx: RouteContext) => Promise<void>;

export interface ServerStats {
  connections: number;
  /** WebSocket handshakes under way. */
  upgrading: number;
  waiting: number;
  running: boolean;
  inFlight: number;
  /** Client sessions alive (WebSocket and HTTP). */
  sessions: number;
}

export interface PolicyServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port */
  readonly httpUrl: string;
  /** ws://host:port */
  readonly wsUrl: string;
  stats(): ServerStats;
  /** Stops accepting, answers the requests in flight, closes every connection (1001). */
  close(graceMs?: number): Promise<void>;
}

const STATUS: Record<string, number> = {
  E_PROTOCOL: 400,
  E_IMAGE: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_TOO_LARGE: 413,
  E_BUSY: 503,
  E_SESSION_LIMIT: 503,
  E_SHUTTING_DOWN: 503,
  E_TIMEOUT: 504,
};
const WS_CLOSE: Record<string, number> = { E_BUSY: 1013, E_SESSION_LIMIT: 1013, E_SHUTTING_DOWN: 1001 };
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

const isLoopback = (host: string) => LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
const digest = (s: string) => createHash('sha256').update(s).digest();

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.replace(/:\d+$/, '').toLowerCase();
}

/** The error a client sees: code, message, fix; the stack only with --debug. */
function clientError(e: unknown, debug: boolean): { code: string; message: string; fix?: string; stack?: string } {
  if (isVlmError(e))
    return { code: e.code, message: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(debug && e.stack ? { stack: e.stack } : {}) };
  const err = e as Error;
  return {
    code: 'E_POLICY',
    message: debug ? `the policy failed: ${err?.message ?? String(e)}` : 'the policy failed (see the server log)',
    ...(debug && err?.stack ? { stack: err.stack } : {}),
  };
}

const errorText = (e: ReturnType<typeof clientError>) =>
  [`error ${e.code}: ${e.message}`, ...(e.fix ? [`fix: ${e.fix}`] : []), ...(e.stack ? [e.stack] : [])].join('\n');
const ms = (x: number) => `${x.toFixed(1)}ms`;

interface Connection {
  ws: WebSocket;
  /** Pings the client (the heartbeat's view of the connection). */
  ping(): void;
  readonly open: boolean;
  peer: string;
  /** Its session's id (the session itself lives from the first request until the close or eviction). */
  sessionId: string;
  busy: boolean;
  cancel: (() => void) | null;
  prevTotalMs: number | undefined;
  idle: NodeJS.Timeout | undefined;
  /** performance.now() of the last frame or ping read. */
  heardAt: number;
}

export async function startServer(options: ServeOptions): Promise<PolicyServer> {
  const host = options.host ?? '127.0.0.1';
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 600_000;
  const maxConnections = options.maxConnections ?? 64;
  const limits = options.limits ?? DEFAULT_OBSERVATION_LIMITS;
  const debug = options.debug === true;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const apiKey = options.apiKey ? digest(options.apiKey) : null;
  const queue = new RequestQueue(options.maxQueue ?? 16);
  if ((options.policy === undefined) === (options.policyFactory === undefined))
    throw new UsageError(
      'startServer needs exactly one of policy (shared by every client) and policyFactory (a policy per client session)',
    );
  const metadata = (options.policyFactory ?? options.policy)!.metadata;
  const sessionIdleMs = options.sessionIdleMs ?? 300_000;
  const sessions = new SessionTable(options.policyFactory ? { factory: options.policyFactory } : { policy: options.policy! }, {
    maxSessions: options.maxSessions ?? 64,
    idleMs: sessionIdleMs,
    onEvict: (s) => logLine('session', s.label, 'evicted', 'ok', null, `no request for ${sessionIdleMs / 1000} s`),
    onCloseError: (s, e) => logLine('session', s.label, 'close', 'E_POLICY', null, `${(e as Error)?.message ?? e}`),
  });
  const sweeper = setInterval(() => sessions.sweep(), Math.max(1000, Math.min(sessionIdleMs / 2, 30_000)));
  sweeper.unref();
  const connections = new Set<Connection>();
  const metadataBytes = packMessage(metadataMessage(metadata));
  let connectionCount = 0;
  let upgrading = 0;
  let draining = false;
  let inFlight = 0;
  const settledWaiters: (() => void)[] = [];
  const begin = () => void inFlight++;
  const end = () => {
    if (--inFlight === 0) for (const w of settledWaiters.splice(0)) w();
  };

  /** time, transport, peer, request, status, latency (from `started`, when the line is a request), notes */
  const logLine = (kind: string, peer: string, what: string, status: string | number, started: number | null, extra = '') =>
    log(
      `${new Date().toISOString()} ${kind} ${peer} ${what} ${status}${started === null ? '' : ` ${ms(performance.now() - started)}`}${extra ? ` ${extra}` : ''}`,
    );

  /** Refuses DNS-rebinding and cross-site requests to a loopback server, and checks the key. */
  function admit(req: IncomingMessage): void {
    if (isLoopback(host)) {
      const h = hostnameOf(req.headers.host ?? '');
      if (!isLoopback(h))
        throw new ServeError(
          'E_FORBIDDEN',
          `Host "${req.headers.host ?? ''}" is not this machine`,
          'connect to localhost or 127.0.0.1; to serve other machines start with --host 0.0.0.0 and an --api-key-env',
        );
      const origin = req.headers.origin;
      if (origin !== undefined) {
        let originHost = '';
        try {
          originHost = new URL(origin).hostname;
        } catch {
          // an unparsable Origin is refused below
        }
        if (!isLoopback(originHost))
          throw new ServeError(
            'E_FORBIDDEN',
            `Origin "${origin}" may not use this server`,
            'call the server from a program, not from a web page',
          );
      }
    }
    if (apiKey) {
      const auth = req.headers.authorization ?? '';
      const m = /^(?:Api-Key|Bearer) (.+)$/.exec(auth);
      if (!m || !timingSafeEqual(digest(m[1]!), apiKey))
        throw new ServeError(
          'E_UNAUTHORIZED',
          'missing or wrong API key',
          'send the header "Authorization: Api-Key <key>" (openpi clients: api_key=…)',
        );
    }
  }

  function submitRun<T>(
    job: () => Promise<T>,
    lane: string,
    onCancel: (cancel: () => void) => void,
  ): Promise<{ value: T; timing: QueueTiming }> {
    const ticket = queue.submit(job, requestTimeoutMs, lane);
    onCancel(ticket.cancel);
    return ticket.done;
  }

  // ---- WebSocket --------------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false, clientTracking: false });
  const heartbeat = new Heartbeat<Connection>({
    intervalMs: options.pingIntervalMs ?? 10_000,
    maxMissed: options.maxMissedPongs ?? 2,
    onDead: (conn, missed) => {
      logLine('ws', conn.peer, 'ping', 'closed', null, `no pong to ${missed} pings in a row`);
      conn.ws.terminate();
    },
  });

  function armIdle(conn: Connection, ms = idleTimeoutMs): void {
    clearTimeout(conn.idle);
    conn.idle = setTimeout(() => expireIdle(conn), ms);
  }

  /** Closes a connection that sent nothing for the idle time. Judged after a turn of the event loop:
   *  when a synchronous engine call held the thread past the deadline, timers fire before the frames
   *  and pings that arrived meanwhile are read, and a live client would be closed. */
  function expireIdle(conn: Connection): void {
    setImmediate(() => {
      if (conn.ws.readyState !== WebSocket.OPEN) return;
      const quiet = performance.now() - conn.heardAt;
      if (conn.busy) return armIdle(conn);
      if (quiet < idleTimeoutMs) return armIdle(conn, idleTimeoutMs - quiet);
      logLine('ws', conn.peer, 'idle', 'closed', null, `nothing received for ${idleTimeoutMs} ms`);
      conn.ws.close(1000, 'idle timeout');
    });
  }

  const heard = (conn: Connection) => {
    conn.heardAt = performance.now();
    armIdle(conn);
  };

  function failConnection(conn: Connection, e: unknown, what: string, started: number): void {
    const ce = clientError(e, debug);
    logLine(
      'ws',
      conn.peer,
      what,
      ce.code,
      started,
      isVlmError(e) ? e.message : `${(e as Error)?.message ?? e}${debug ? '' : ' (internal)'}`,
    );
    if (!isVlmError(e) && debug) log(String((e as Error)?.stack));
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.send(errorText(ce));
    conn.ws.close(WS_CLOSE[ce.code] ?? 1011, ce.code);
  }

  async function onFrame(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    const started = performance.now();
    let what = 'infer';
    if (conn.busy)
      return failConnection(
        conn,
        new ServeError(
          'E_BUSY',
          'a request on this connection is still running',
          'wait for each answer before sending the next observation (or open another connection)',
        ),
        what,
        started,
      );
    conn.busy = true;
    begin();
    try {
      if (draining) throw new ServeError('E_SHUTTING_DOWN', 'the server is shutting down', 'reconnect when it is back');
      if (!isBinary) throw new ProtocolError('a text frame arrived', 'frame', 'send each observation as one binary msgpack frame');
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      const request = parseRequest(unpackMessage(bytes), limits);
      if (request.kind === 'reset') what = 'reset';
      const session = sessions.open(conn.sessionId, conn.peer);
      if (request.kind === 'reset') {
        sessions.reset(session, request.prompt);
        conn.ws.send(packMessage(new Map([['reset', true]])));
        logLine('ws', conn.peer, what, 'ok', started);
        return;
      }
      const { value, timing } = await sessions.request(session, () =>
        submitRun(
          () => sessions.infer(session, request.observation, request.reset),
          conn.sessionId,
          (cancel) => (conn.cancel = cancel),
        ),
      );
      const reply = packMessage(
        resultMessage(value, {
          inferMs: timing.runMs,
          queueMs: timing.queueMs,
          ...(conn.prevTotalMs === undefined ? {} : { prevTotalMs: conn.prevTotalMs }),
        }),
      );
      if (conn.ws.readyState !== WebSocket.OPEN) return;
      conn.ws.send(reply);
      conn.prevTotalMs = performance.now() - started;
      logLine('ws', conn.peer, what, 'ok', started, `queue=${ms(timing.queueMs)} infer=${ms(timing.runMs)} steps=${value.actions.length}`);
    } catch (e) {
      failConnection(conn, e, what, started);
    } finally {
      conn.busy = false;
      conn.cancel = null;
      end();
      if (conn.ws.readyState === WebSocket.OPEN) armIdle(conn);
    }
  }

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const conn: Connection = {
      ws,
      ping: () => ws.ping(),
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
      peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      sessionId: `ws:${++connectionCount}`,
      busy: false,
      cancel: null,
      prevTotalMs: undefined,
      idle: undefined,
      heardAt: performance.now(),
    };
    connections.add(conn);
    heartbeat.add(conn);
    ws.on('message', (data, isBinary) => {
      conn.heardAt = performance.now();
      heartbeat.heard(conn);
      void onFrame(conn, data, isBinary);
    });
    ws.on('error', () => {}); // a close follows; the 1009 for an oversize frame is sent by ws itself
    // A client that pings is alive (openpi's Python client pings every 20 s between episodes).
    ws.on('ping', () => {
      heard(conn);
      heartbeat.heard(conn);
    });
    // A pong proves the client alive, not active: it does not hold off the idle timeout.
    ws.on('pong', () => heartbeat.heard(conn));
    ws.on('close', (code) => {
      connections.delete(conn);
      heartbeat.delete(conn);
      clearTimeout(conn.idle);
      conn.cancel?.();
      sessions.close(conn.sessionId);
      if (code === 1009) logLine('ws', conn.peer, 'frame', 'E_TOO_LARGE', null, `over ${maxMessageBytes} bytes, closed 1009`);
    });
    ws.send(metadataBytes);
    heard(conn);
    logLine('ws', conn.peer, 'connect', 'ok', null);
  });

  function refuseUpgrade(socket: Duplex, status: number, text: string): void {
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  function readJson(req: IncomingMessage): Promise<unknown> {
    const tooLarge = () =>
      new ServeError('E_TOO_LARGE', `the body is larger than ${maxMessageBytes} bytes`, 'send a smaller body (e.g. downscale images)');
    if (Number(req.headers['content-length'] ?? 0) > maxMessageBytes) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxMessageBytes) {
          req.removeAllListeners('data');
          req.resume();
          reject(tooLarge());
        } else chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => {
        if (size > maxMessageBytes) return;
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new ProtocolError('the body is not JSON', 'body', 'send a JSON object with Content-Type: application/json'));
        }
      });
    });
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  async function act(ctx: RouteContext): Promise<void> {
    const request = parseActJson(await ctx.json(), limits);
    const id = `http:${request.session}`;
    const session: Session = sessions.open(id, `session ${JSON.stringify(request.session)}`);
    const { value, timing } = await sessions.request(session, () =>
      ctx.submit(() => sessions.infer(session, request.observation, request.reset), id),
    );
    ctx.note(`queue=${ms(timing.queueMs)} infer=${ms(timing.runMs)} steps=${value.actions.length}`);
    sendJson(ctx.res, 200, actResultJson(value as PolicyResult, { inferMs: timing.runMs, queueMs: timing.queueMs }));
  }

  const routes: Record<string, RouteHandler> = {
    'GET /v1/metadata': async (ctx) => sendJson(ctx.res, 200, metadata),
    'POST /v1/act': act,
    ...options.routes,
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const what = `${req.method} ${path}`;
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const notes: string[] = [];
    let cancel: (() => void) | null = null;
    res.on('close', () => {
      if (!res.writableFinished) cancel?.();
    });
    begin();
    try {
      if (req.method === 'GET' && path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK\n');
        return;
      }
      admit(req);
      if (draining) throw new ServeError('E_SHUTTING_DOWN', 'the server is shutting down', 'retry when it is back');
      const route = routes[what];
      if (!route) {
        const known = Object.keys(routes).filter((r) => r.endsWith(` ${path}`));
        throw new ServeError(
          'E_NOT_FOUND',
          known.length > 0 ? `${what} is not served (${known.join(', ')} is)` : `no route ${what}`,
          'see docs/serve.md for the routes (GET /healthz, POST /v1/act, GET /v1/metadata, the OpenAI routes, WebSocket on /)',
        );
      }
      await route({
        req,
        res,
        json: () => readJson(req),
        submit: (job, lane = `http:${req.socket.remoteAddress}`) => submitRun(job, lane, (c) => (cancel = c)),
        note: (t) => void notes.push(t),
      });
      logLine('http', peer, what, res.statusCode, started, notes.join(' '));
    } catch (e) {
      const ce = clientError(e, debug);
      const status = isVlmError(e) ? (STATUS[e.code] ?? 500) : 500; // a typed error of the policy is still the server's
      logLine('http', peer, what, status, started, `${ce.code} ${isVlmError(e) ? e.message : `${(e as Error)?.message ?? e}`}`);
      if (!isVlmError(e) && debug) log(String((e as Error)?.stack));
      const headers: Record<string, string> = {};
      if (ce.code === 'E_BUSY') headers['Retry-After'] = '1';
      if (ce.code === 'E_SESSION_LIMIT') headers['Retry-After'] = String(sessions.retryAfterSeconds());
      if (ce.code === 'E_TOO_LARGE' || draining) headers.Connection = 'close';
      if (res.headersSent) res.end();
      else
        sendJson(
          res,
          status,
          {
            error: {
              code: ce.code,
              type: ce.code,
              message: ce.message,
              ...(ce.fix ? { fix: ce.fix } : {}),
              ...(ce.stack ? { stack: ce.stack } : {}),
            },
          },
          headers,
        );
    } finally {
      end();
    }
  }

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const http = createServer(
    { headersTimeout, requestTimeout: 6 * headersTimeout, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1000 },
    (req, res) => void onRequest(req, res),
  );
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    try {
      admit(req);
      if (draining) throw new ServeError('E_SHUTTING_DOWN', 'the server is shutting down', 'reconnect when it is back');
      if (connections.size + upgrading >= maxConnections)
        throw new ServeError(
          'E_BUSY',
          `${maxConnections} connections are open`,
          'close idle clients or start the server with a larger connection cap',
        );
    } catch (e) {
      const ce = clientError(e, false);
      logLine('ws', `${req.socket.remoteAddress}:${req.socket.remotePort}`, 'connect', ce.code, null, ce.message);
      return refuseUpgrade(socket, STATUS[ce.code] ?? 500, errorText(ce));
    }
    // Counted until the handshake ends either way (ws answers a malformed one itself, without a callback).
    upgrading++;
    let pending = true;
    const settled = () => {
      if (pending) upgrading--;
      pending = false;
    };
    socket.once('close', settled);
    wss.handleUpgrade(req, socket, head, (ws) => {
      settled();
      wss.emit('connection', ws, req);
    });
  });
  http.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const refused = (e: NodeJS.ErrnoException) => {
      heartbeat.stop();
      clearInterval(sweeper);
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is in use'
          : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
            ? 'the host is not an address of this machine'
            : e.code === 'EACCES'
              ? 'not permitted (ports below 1024 need privileges)'
              : e.message;
      reject(
        new ServeError(
          'E_LISTEN',
          `cannot listen on ${host}:${options.port ?? 8000}: ${why}`,
          'choose another --port (0 picks a free one) or --host',
        ),
      );
    };
    http.once('error', refused);
    http.listen(options.port ?? 8000, host, () => {
      http.off('error', refused);
      resolve();
    });
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8000);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  async function close(graceMs = 30_000): Promise<void> {
    if (draining) return;
    draining = true;
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    // Every request answered, and the policy idle (a request whose client left may still be running).
    const answered = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => settledWaiters.push(resolve));
    await Promise.race([answered.then(() => queue.drained()), deadline]);
    const goodbyes = [...connections].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => conn.ws.terminate(), 1000);
          conn.ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          conn.ws.close(1001, 'server shutting down');
        }),
    );
    await Promise.all(goodbyes);
    http.closeAllConnections();
    clearInterval(sweeper);
    heartbeat.stop();
    sessions.closeAll();
    await closed;
  }

  return {
    host,
    port,
    httpUrl: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}`,
    stats: () => ({
      connections: connections.size,
      upgrading,
      waiting: queue.waiting,
      running: queue.running,
      inFlight,
      sessions: sessions.size,
    }),
    close,
  };
}

/** Closes `server` gracefully on the first SIGTERM or SIGINT (a second one exits at once); resolves
 *  with the signal's name once every request in flight has been answered and the port is free. */
export function closeOnSignal(server: PolicyServer, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      log(`${signal}: finishing requests in flight, then stopping (send it again to stop now)`);
      void server.close().then(() => resolve(signal));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
