// Serving load: C concurrent WebSocket clients (RemotePolicy), each sending observations back to back
// for S seconds, against a server in a child process — by default an echo policy that answers at once
// (the cost of the protocol alone), or with --model the embedded VLA behind `vlm2vla serve`. Prints
// requests/s, client-side latency p50/p99, the server's queue wait, errors, and as the reference the
// in-process cost of the same messages (encode, decode, validate; no socket) measured in the same run.
// Run: node --import tsx bench/serve.ts [--clients 64] [--seconds 10] [--image 256] [--model DIR [--adapter RUN]]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RemotePolicy } from '../src/serve/client.ts';
import { observationMessage, parseRequest, parseResult, resultMessage } from '../src/serve/protocol.ts';
import { packMessage, unpackMessage } from '../src/serve/wire.ts';
import type { Observation } from '../src/policy/types.ts';
import { printMachineLoad } from './machine.ts';

printMachineLoad();

const args = process.argv.slice(2);
const opt = (name: string, fallback: string | null): string | null => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? null) : fallback;
};
const whole = (name: string, fallback: string, min: number): number => {
  const v = Number(opt(name, fallback));
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench/serve: --${name} must be a whole number >= ${min}`);
    process.exit(1);
  }
  return v;
};
const CLIENTS = whole('clients', '64', 1);
const SECONDS = whole('seconds', '10', 1);
const SIDE = whole('image', '256', 1);
const MODEL = opt('model', null);
const ADAPTER = opt('adapter', null);
const root = fileURLToPath(new URL('..', import.meta.url));

const observation: Observation = {
  image: { width: SIDE, height: SIDE, rgb: new Uint8Array(SIDE * SIDE * 3).map((_, i) => (i * 7) & 0xff) },
  state: Float32Array.of(0.3, 0, 0.1, 0, 0, 0, 1),
  instruction: 'put the carrot in the pot',
};

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** The reference: one request's messages without a socket (what each round trip must at least cost). */
function inProcessMs(): number {
  const result = {
    actions: [Float32Array.of(0.01, 0, 0, 0, 0, 0, 1)],
    text: { subtask: 'x', chunk: '[[1.0, 0.0, 0.0, 1]]' },
    timing: { totalMs: 0, stages: {} },
  };
  const once = () => {
    const request = parseRequest(unpackMessage(packMessage(observationMessage(observation))));
    if (request.kind !== 'infer') throw new Error('unexpected');
    parseResult(unpackMessage(packMessage(resultMessage(result, { inferMs: 0, queueMs: 0 }))));
  };
  for (let i = 0; i < 50; i++) once();
  const n = 500;
  const t = performance.now();
  for (let i = 0; i < n; i++) once();
  return (performance.now() - t) / n;
}

async function startChild(): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const argv = MODEL
    ? [
        'bin/vlm2vla.mjs',
        'serve',
        '--model',
        MODEL,
        ...(ADAPTER ? ['--adapter', ADAPTER] : []),
        '--port',
        '0',
        '--no-chat',
        '--max-queue',
        String(CLIENTS),
        '--max-connections',
        String(CLIENTS),
        '--max-sessions',
        String(CLIENTS),
        '--timeout',
        '3600',
      ]
    : ['--import', 'tsx', 'src/serve/testing-child.ts', '0'];
  const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)|ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(m[1] ?? m[2]!);
    });
    void exited.then(() => reject(new Error(`the server exited before listening:\n${out}`)));
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const reference = inProcessMs();
const server = await startChild();
const latencies: number[] = [];
const queueWaits: number[] = [];
let errors = 0;
const firstErrors: string[] = [];
const clients = await Promise.all(Array.from({ length: CLIENTS }, () => RemotePolicy.connect(server.url, { timeoutMs: 3_600_000 })));
const started = performance.now();
const until = started + SECONDS * 1000;
await Promise.all(
  clients.map(async (client) => {
    while (performance.now() < until) {
      const t = performance.now();
      try {
        await client.infer(observation);
        latencies.push(performance.now() - t);
        queueWaits.push(client.lastServerTiming?.queueMs ?? 0);
      } catch (e) {
        errors++;
        if (firstErrors.length < 3) firstErrors.push((e as Error).message);
      }
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
await Promise.all(clients.map((c) => c.close()));
const exitCode = await server.stop();

latencies.sort((a, b) => a - b);
queueWaits.sort((a, b) => a - b);
const p50 = percentile(latencies, 50);
console.log(
  `serving ${MODEL ? `${MODEL}${ADAPTER ? ` + ${ADAPTER}` : ''}` : 'an echo policy (protocol overhead)'}: ${CLIENTS} clients × ${SECONDS} s, ${SIDE}×${SIDE} image (${((SIDE * SIDE * 3) / 1024).toFixed(0)} KiB per request)`,
);
console.log(`  requests      ${latencies.length} ok, ${errors} errors${firstErrors.length > 0 ? ` (${firstErrors.join('; ')})` : ''}`);
console.log(`  throughput    ${(latencies.length / elapsed).toFixed(1)} requests/s`);
console.log(`  latency       p50 ${p50.toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms (client side, round trip)`);
console.log(
  `  queue wait    p50 ${percentile(queueWaits, 50).toFixed(2)} ms, p99 ${percentile(queueWaits, 99).toFixed(2)} ms (server side)`,
);
console.log(`  reference     ${reference.toFixed(3)} ms per request in process (encode, decode, validate; no socket)`);
console.log(`  ratio         p50 round trip / in-process messages = ${(p50 / reference).toFixed(1)}×`);
console.log(`  server exit   ${exitCode} after SIGTERM`);
