// `vlm2vla serve`: a model (and adapter) as a policy behind openpi's WebSocket protocol, HTTP JSON and
// the OpenAI-compatible chat endpoint, until SIGTERM/SIGINT.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { loadChatModel } from '../../models/index.ts';
import { modelPolicyFactory } from '../../policy/load.ts';
import { closeOnSignal, startServer } from '../../serve/index.ts';
import { chatModelOf, chatRoutes } from '../../serve/chat.ts';

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'serve a model as a robot policy (openpi WebSocket, HTTP JSON) and a chat model (OpenAI API)',
  description:
    'Loads the model (and LoRA adapter) as the hierarchical VLA policy and serves it on one port:\n' +
    "  ws://HOST:PORT            openpi's policy protocol (openpi_client.WebsocketClientPolicy, vlm2vla/client)\n" +
    '  POST /v1/act              one observation as JSON (base64 PNG/JPEG image, state, prompt)\n' +
    '  POST /v1/chat/completions the model as an OpenAI-compatible chat endpoint (GET /v1/models)\n' +
    '  GET  /healthz             200 when up (no key needed)\n' +
    'The model is loaded once; every client session (a WebSocket connection, an HTTP session) runs\n' +
    'its own episode on it, up to --max-sessions; a session idle for --session-idle seconds is freed.\n' +
    'Binds 127.0.0.1 unless --host says otherwise; with --api-key-env VAR every request needs\n' +
    '"Authorization: Api-Key $VAR" (or "Bearer $VAR"). One log line per request. SIGTERM or Ctrl-C\n' +
    'stops accepting, answers the requests in flight, then exits 0. See docs/serve.md.',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'model folder (config.json, weights, tokenizer files)' },
    adapter: { type: 'string', meta: 'RUN', help: 'a `vlm2vla train` run folder or a PEFT adapter folder' },
    port: { type: 'number', integer: true, min: 0, max: 65535, default: 8000, help: 'TCP port (0 picks a free one)' },
    host: { type: 'string', default: '127.0.0.1', help: 'interface to bind; 0.0.0.0 serves other machines (use an API key then)' },
    'api-key-env': { type: 'string', meta: 'VAR', help: 'name of the environment variable holding the API key clients must send' },
    'max-queue': {
      type: 'number',
      integer: true,
      min: 0,
      max: 100_000,
      default: 16,
      help: 'requests that may wait for the model before new ones are answered busy',
    },
    'max-connections': { type: 'number', integer: true, min: 1, max: 100_000, default: 64, help: 'open WebSocket connections' },
    'max-sessions': {
      type: 'number',
      integer: true,
      min: 1,
      max: 100_000,
      default: 64,
      help: 'client sessions (episodes, each with its own KV cache) alive at once; one more is answered E_SESSION_LIMIT',
    },
    'session-idle': {
      type: 'number',
      min: 1,
      max: 86_400,
      default: 300,
      help: 'seconds without a request after which a session is evicted (its episode freed)',
    },
    timeout: { type: 'number', default: 120, help: 'seconds a request may wait and run before it is answered E_TIMEOUT' },
    'ping-interval': {
      type: 'number',
      min: 0,
      max: 3600,
      default: 10,
      help: 'seconds between the server’s pings to each WebSocket client; a client that misses 2 pongs in a row is disconnected (0: no pings)',
    },
    greedy: { type: 'boolean', help: 'greedy decoding in every stage', defaultHelp: 'the paper’s sampling' },
    seed: { type: 'number', integer: true, min: 0, default: 0, help: 'sampling seed' },
    verifier: { type: 'string', default: 'model', help: 'subtask verifier: model, budget:K' },
    'no-chat': { type: 'boolean', help: 'do not serve the OpenAI-compatible chat endpoint (it shares the policy’s model)' },
    debug: { type: 'boolean', help: 'error messages to clients include stack traces' },
  },
  async run(f) {
    const { model, adapter, port, host, timeout } = f;
    const maxQueue = f['max-queue'];
    const maxConnections = f['max-connections'];
    const keyEnv = f['api-key-env'];
    if (!(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${timeout}`);
    let apiKey: string | undefined;
    if (keyEnv !== undefined) {
      apiKey = process.env[keyEnv];
      if (!apiKey)
        throw new UsageError(
          `--api-key-env ${keyEnv}: the environment variable ${keyEnv} is not set or empty`,
          `export ${keyEnv}=<a long random key> before starting the server`,
        );
    }
    const files = loadChatModel(model, adapter);
    const policies = modelPolicyFactory(
      { model, ...(adapter ? { adapter } : {}), greedy: f.greedy, seed: f.seed, verifier: f.verifier },
      files,
    );
    const chat = f['no-chat'] ? null : chatModelOf(files, model, adapter);
    const server = await startServer({
      policyFactory: policies,
      host,
      port,
      maxQueue,
      maxConnections,
      maxSessions: f['max-sessions'],
      sessionIdleMs: f['session-idle'] * 1000,
      requestTimeoutMs: timeout * 1000,
      pingIntervalMs: f['ping-interval'] * 1000,
      debug: f.debug,
      ...(apiKey ? { apiKey } : {}),
      ...(chat ? { routes: chatRoutes(chat) } : {}),
      log: (line) => console.log(line),
    });
    console.log(
      `vlm2vla serve: ${policies.metadata.name} policy from ${model}${adapter ? ` + ${adapter}` : ''}${apiKey ? `, API key from $${keyEnv}` : ''}`,
    );
    console.log(`  ${server.wsUrl}  openpi WebSocket protocol (WebsocketClientPolicy, vlm2vla/client)`);
    console.log(`  ${server.httpUrl}/v1/act  POST one observation as JSON`);
    if (chat) console.log(`  ${server.httpUrl}/v1  OpenAI-compatible chat (model "${chat.id}")`);
    console.log(`  ${server.httpUrl}/healthz`);
    if (!apiKey && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
      console.log(
        `warning: serving on ${host} without an API key: anyone who can reach this port can drive the policy (--api-key-env VAR)`,
      );
    await closeOnSignal(server, (line) => console.log(line));
    await policies.close?.();
    console.log('vlm2vla serve: stopped');
    return 0;
  },
});
