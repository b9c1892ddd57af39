// `vlm2vla serve`: a model (and adapter) as a policy behind openpi's WebSocket protocol, HTTP JSON and
// the OpenAI-compatible chat endpoint, until SIGTERM/SIGINT.
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { loadModelPolicy } from '../../policy/load.ts';
import { closeOnSignal, startServer } from '../../serve/index.ts';
import { chatRoutes, loadChatModel } from '../../serve/chat.ts';

function wholeNumber(value: unknown, flag: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  return value;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve a model as a robot policy (openpi WebSocket, HTTP JSON) and a chat model (OpenAI API)',
  usage: '--model DIR [--adapter RUN] [--port 8000] [--host 127.0.0.1] [--api-key-env VAR] [--max-queue N] [--debug]',
  description:
    'Loads the model (and LoRA adapter) as the hierarchical VLA policy and serves it on one port:\n' +
    "  ws://HOST:PORT            openpi's policy protocol (openpi_client.WebsocketClientPolicy, vlm2vla/client)\n" +
    '  POST /v1/act              one observation as JSON (base64 PNG/JPEG image, state, prompt)\n' +
    '  POST /v1/chat/completions the model as an OpenAI-compatible chat endpoint (GET /v1/models)\n' +
    '  GET  /healthz             200 when up (no key needed)\n' +
    'Binds 127.0.0.1 unless --host says otherwise; with --api-key-env VAR every request needs\n' +
    '"Authorization: Api-Key $VAR" (or "Bearer $VAR"). One log line per request. SIGTERM or Ctrl-C\n' +
    'stops accepting, answers the requests in flight, then exits 0. See docs/serve.md.',
  flags: [
    { name: 'model', type: 'string', help: 'model folder (config.json, weights, tokenizer files)' },
    { name: 'adapter', type: 'string', help: 'a `vlm2vla train` run folder or a PEFT adapter folder' },
    { name: 'port', type: 'number', help: 'TCP port (0 picks a free one)', default: 8000 },
    { name: 'host', type: 'string', help: 'interface to bind; 0.0.0.0 serves other machines (use an API key then)', default: '127.0.0.1' },
    { name: 'api-key-env', type: 'string', help: 'name of the environment variable holding the API key clients must send' },
    { name: 'max-queue', type: 'number', help: 'requests that may wait for the model before new ones are answered busy', default: 16 },
    { name: 'max-connections', type: 'number', help: 'open WebSocket connections', default: 64 },
    { name: 'timeout', type: 'number', help: 'seconds a request may wait and run before it is answered E_TIMEOUT', default: 120 },
    { name: 'greedy', type: 'boolean', help: 'greedy decoding in every stage (default: the paper’s sampling)' },
    { name: 'seed', type: 'number', help: 'sampling seed', default: 0 },
    { name: 'verifier', type: 'string', help: 'subtask verifier: model, budget:K', default: 'model' },
    { name: 'no-chat', type: 'boolean', help: 'do not serve the OpenAI-compatible chat endpoint' },
    { name: 'debug', type: 'boolean', help: 'error messages to clients include stack traces' },
  ],
  async run(args) {
    const model = requireString(args, 'model');
    const adapter = args.flags.adapter as string | undefined;
    const port = wholeNumber(args.flags.port, 'port', 0, 65535);
    const maxQueue = wholeNumber(args.flags['max-queue'], 'max-queue', 0, 100_000);
    const maxConnections = wholeNumber(args.flags['max-connections'], 'max-connections', 1, 100_000);
    const timeout = args.flags.timeout as number;
    if (!(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${timeout}`);
    const host = args.flags.host as string;
    const keyEnv = args.flags['api-key-env'] as string | undefined;
    let apiKey: string | undefined;
    if (keyEnv !== undefined) {
      apiKey = process.env[keyEnv];
      if (!apiKey) throw new UsageError(`--api-key-env ${keyEnv}: the environment variable ${keyEnv} is not set or empty`, `export ${keyEnv}=<a long random key> before starting the server`);
    }
    const policy = await loadModelPolicy({ model, ...(adapter ? { adapter } : {}), greedy: args.flags.greedy === true, seed: args.flags.seed as number, verifier: args.flags.verifier as string });
    const chat = args.flags['no-chat'] === true ? null : loadChatModel(model, adapter);
    const server = await startServer({
      policy,
      host,
      port,
      maxQueue,
      maxConnections,
      requestTimeoutMs: timeout * 1000,
      debug: args.flags.debug === true,
      ...(apiKey ? { apiKey } : {}),
      ...(chat ? { routes: chatRoutes(chat) } : {}),
      log: (line) => console.log(line),
    });
    console.log(`vlm2vla serve: ${policy.metadata.name} policy from ${model}${adapter ? ` + ${adapter}` : ''}${apiKey ? `, API key from $${keyEnv}` : ''}`);
    console.log(`  ${server.wsUrl}  openpi WebSocket protocol (WebsocketClientPolicy, vlm2vla/client)`);
    console.log(`  ${server.httpUrl}/v1/act  POST one observation as JSON`);
    if (chat) console.log(`  ${server.httpUrl}/v1  OpenAI-compatible chat (model "${chat.id}")`);
    console.log(`  ${server.httpUrl}/healthz`);
    if (!apiKey && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') console.log(`warning: serving on ${host} without an API key: anyone who can reach this port can drive the policy (--api-key-env VAR)`);
    await closeOnSignal(server, (line) => console.log(line));
    await policy.close?.();
    console.log('vlm2vla serve: stopped');
    return 0;
  },
};
