// The OpenAI-compatible chat endpoint over the embedded model: POST /v1/chat/completions (text and
// image_url data URIs; temperature, top_p, max_tokens, stop, seed; stream as server-sent events) and
// GET /v1/models, so any OpenAI client — the annotator and the verifier included — can use the model.
// A completion gives the event loop a turn every few tokens (pings, other clients' frames, /healthz are
// answered meanwhile) and stops at a turn when its client left or its request timed out.
import { basename } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { RgbImage } from '../data/image.ts';
import { generateYielding } from '../decode/index.ts';
import type { Generation, YieldOptions } from '../decode/index.ts';
import { imageSpec, loadChatModel as loadChatModelFiles } from '../models/index.ts';
import type { ChatModelFiles, Gemma3Model } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { expandImageTokens } from '../tokenizer/index.ts';
import type { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';
import type { ChatContentPart, ChatMessage } from '../tokenizer/index.ts';
import { imageFromBase64 } from './act-json.ts';
import { ProtocolError, ServeError } from './errors.ts';
import { MAX_IMAGE_PIXELS } from './protocol.ts';
import type { RouteContext, RouteHandler } from './server.ts';

/** Most messages, images, stop strings and new tokens one request may ask for. */
export const CHAT_LIMITS = { messages: 256, images: 8, stops: 4, stopChars: 64, maxTokens: 4096, textChars: 64 * 1024 };

export interface ChatModel {
  /** The name GET /v1/models lists (model folder, + adapter). */
  id: string;
  model: Gemma3Model;
  tokenizer: Tokenizer;
  template: ChatTemplate;
  /** Ids that end an answer: the eos ids and the end-of-turn marker. */
  stopIds: number[];
}

/** The model folder (and adapter: a `vlm2vla train` run folder or a PEFT folder) as a chat model. */
export function loadChatModel(dir: string, adapter?: string): ChatModel {
  return chatModelOf(loadChatModelFiles(dir, adapter), dir, adapter);
}

/** A loaded model (shared with the policy sessions of `vlm2vla serve`) as the chat model of `dir`. */
export function chatModelOf({ model, tokenizer, template }: ChatModelFiles, dir: string, adapter?: string): ChatModel {
  const eos = model.text.eosTokenId;
  const stops = new Set(Array.isArray(eos) ? eos : [eos]);
  const eot = tokenizer.tokenToId('<end_of_turn>');
  if (eot !== null) stops.add(eot);
  return { id: adapter ? `${basename(dir)}+${basename(adapter)}` : basename(dir), model, tokenizer, template, stopIds: [...stops] };
}

export interface ChatRequest {
  messages: ChatMessage[];
  images: RgbImage[];
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: string[];
  stream: boolean;
  seed: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string) => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

function numberIn(body: Record<string, unknown>, key: string, fallback: number, ok: (v: number) => boolean, range: string): number {
  const v = own(body, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !ok(v))
    throw new ProtocolError(`${key} is ${JSON.stringify(v)}, not ${range}`, key, `send ${key} as ${range} or leave it out`);
  return v;
}

/** Validates an OpenAI chat-completions body (only the fields this server honours; others are ignored). */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new ProtocolError('the body is not a JSON object', 'body', 'send an OpenAI chat-completions request');
  const raw = own(body, 'messages');
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > CHAT_LIMITS.messages)
    throw new ProtocolError(
      `messages is not a list of 1 … ${CHAT_LIMITS.messages} messages`,
      'messages',
      'send [{"role": "user", "content": "…"}]',
    );
  const images: RgbImage[] = [];
  let chars = 0;
  const messages = raw.map((m, i): ChatMessage => {
    const field = `messages[${i}]`;
    if (!isRecord(m)) throw new ProtocolError(`${field} is not an object`, field, 'each message is {"role": …, "content": …}');
    const role = own(m, 'role');
    if (role !== 'system' && role !== 'user' && role !== 'assistant')
      throw new ProtocolError(`${field}.role is ${JSON.stringify(role)}`, `${field}.role`, 'use system, user or assistant');
    const content = own(m, 'content');
    if (typeof content === 'string') {
      chars += content.length;
      return { role, content };
    }
    if (!Array.isArray(content))
      throw new ProtocolError(
        `${field}.content is neither a string nor a list of parts`,
        `${field}.content`,
        'send text, or [{"type": "text", …}, {"type": "image_url", …}]',
      );
    const parts = content.map((p, j): ChatContentPart => {
      const pf = `${field}.content[${j}]`;
      if (isRecord(p) && own(p, 'type') === 'text' && typeof own(p, 'text') === 'string') {
        chars += (p.text as string).length;
        return { type: 'text', text: p.text as string };
      }
      if (isRecord(p) && own(p, 'type') === 'image_url') {
        const iu = own(p, 'image_url');
        const url = typeof iu === 'string' ? iu : isRecord(iu) ? own(iu, 'url') : undefined;
        if (typeof url !== 'string' || !url.startsWith('data:'))
          throw new ProtocolError(
            `${pf}.image_url is not a data: URI`,
            `${pf}.image_url`,
            'send images inline as data:image/png;base64,… (the server fetches no URL)',
          );
        if (images.length >= CHAT_LIMITS.images) throw new ProtocolError(`more than ${CHAT_LIMITS.images} images`, pf, 'send fewer images');
        images.push(imageFromBase64(url, `${pf}.image_url`, MAX_IMAGE_PIXELS));
        return { type: 'image' };
      }
      throw new ProtocolError(
        `${pf} is not a text or image_url part`,
        pf,
        'use {"type": "text", "text": …} or {"type": "image_url", "image_url": {"url": "data:…"}}',
      );
    });
    if (images.length > 0 && role !== 'user')
      throw new ProtocolError(`${field} (${role}) has an image`, field, 'images go in user messages');
    return { role, content: parts };
  });
  if (chars > CHAT_LIMITS.textChars)
    throw new ProtocolError(
      `the messages hold ${chars} characters, more than ${CHAT_LIMITS.textChars}`,
      'messages',
      'send a shorter conversation',
    );
  const n = own(body, 'n');
  if (n !== undefined && n !== null && n !== 1) throw new ProtocolError('n must be 1', 'n', 'ask for one choice per request');
  const stopRaw = own(body, 'stop');
  const stop = stopRaw === undefined || stopRaw === null ? [] : typeof stopRaw === 'string' ? [stopRaw] : stopRaw;
  if (
    !Array.isArray(stop) ||
    stop.length > CHAT_LIMITS.stops ||
    stop.some((s) => typeof s !== 'string' || s === '' || s.length > CHAT_LIMITS.stopChars)
  ) {
    throw new ProtocolError(
      `stop is not a string or a list of at most ${CHAT_LIMITS.stops} strings of 1 … ${CHAT_LIMITS.stopChars} characters`,
      'stop',
      'send fewer or shorter stop strings',
    );
  }
  const stream = own(body, 'stream');
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    throw new ProtocolError('stream is not a boolean', 'stream', 'send true or false');
  const maxTokensKey = own(body, 'max_completion_tokens') !== undefined ? 'max_completion_tokens' : 'max_tokens';
  return {
    messages,
    images,
    temperature: numberIn(body, 'temperature', 1, (v) => v >= 0 && v <= 2, 'a number from 0 to 2'),
    topP: numberIn(body, 'top_p', 1, (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    maxTokens: numberIn(
      body,
      maxTokensKey,
      256,
      (v) => Number.isInteger(v) && v >= 1 && v <= CHAT_LIMITS.maxTokens,
      `a whole number from 1 to ${CHAT_LIMITS.maxTokens}`,
    ),
    stop: stop as string[],
    stream: stream === true,
    seed: numberIn(body, 'seed', 0, (v) => Number.isSafeInteger(v), 'an integer'),
  };
}

/** The prompt ids and pixels of a conversation, as the model's chat template renders it. */
function prompt(m: ChatModel, req: ChatRequest): { ids: number[]; pixels: Float32Array | null } {
  let text = m.template.render(req.messages, { addGenerationPrompt: true });
  if (req.images.length === 0) return { ids: m.tokenizer.encode(text), pixels: null };
  const cfg = m.model.cfg;
  const spec = cfg.modelType === 'gemma3' ? imageSpec({ tokenizer: m.tokenizer, cfg }) : null;
  if (cfg.modelType !== 'gemma3' || !spec) throw new ProtocolError(`the model ${m.id} reads no images`, 'messages', 'send text only');
  text = expandImageTokens(text, spec);
  const size = cfg.vision.imageSize;
  const pixels = new Float32Array(req.images.length * 3 * size * size);
  req.images.forEach((img, i) => pixels.set(imageToPixels(img, size), i * 3 * size * size));
  return { ids: m.tokenizer.encode(text), pixels };
}

/** The prompt of a request, checked against the model's context before anything runs. */
export function preparePrompt(m: ChatModel, req: ChatRequest): { ids: number[]; pixels: Float32Array | null; room: number } {
  const { ids, pixels } = prompt(m, req);
  const room = m.model.text.maxPositionEmbeddings - ids.length;
  if (room < 1)
    throw new ProtocolError(
      `the prompt has ${ids.length} tokens; the model reads ${m.model.text.maxPositionEmbeddings}`,
      'messages',
      'send a shorter conversation',
    );
  return { ids, pixels, room };
}

/** How much of `text` can be sent while streaming: up to the first stop string, and short of a
 *  tail that may still grow into one. */
export function emittable(text: string, stops: readonly string[]): number {
  let limit = text.length;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0) limit = Math.min(limit, at);
    for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) {
      if (text.endsWith(stop.slice(0, k))) {
        limit = Math.min(limit, text.length - k);
        break;
      }
    }
  }
  return limit;
}

/** The event-loop turns of a completion: every 8 tokens or 50 ms, whichever comes first. */
export const CHAT_YIELD: YieldOptions = { tokens: 8, ms: 50 };

/** Runs one request on the engine, giving the event loop a turn as `every` says (an aborted signal
 *  stops it there); `onText` receives the answer as it grows (never a stop string). */
export async function complete(
  m: ChatModel,
  req: ChatRequest,
  onText?: (delta: string) => void,
  prepared = preparePrompt(m, req),
  every: YieldOptions = CHAT_YIELD,
): Promise<Generation> {
  const { ids, pixels, room } = prepared;
  const stopIds = new Set(m.stopIds);
  const detokenize = (t: readonly number[]) => m.tokenizer.decode(t, { skipSpecial: true });
  const tokens: number[] = [];
  let sent = 0;
  // The image token stands for pixels an answer does not have (fed back, it fails the forward pass).
  const imageToken = m.model.cfg.modelType === 'gemma3' ? m.model.cfg.imageTokenIndex : -1;
  const [g] = await generateYielding(
    m.model,
    [{ ids, pixels }],
    {
      maxNewTokens: Math.min(req.maxTokens, room),
      sampling: { temperature: req.temperature, topP: req.topP, topK: 0 },
      seed: req.seed,
      eosIds: [...stopIds],
      ...(imageToken >= 0 ? { logitsProcessor: (_row: number, logits: Float32Array) => void (logits[imageToken] = -Infinity) } : {}),
      ...(req.stop.length > 0 ? { stop: req.stop } : {}),
      detokenize,
      ...(onText
        ? {
            onToken: (_row: number, id: number) => {
              if (stopIds.has(id)) return;
              tokens.push(id);
              const text = detokenize(tokens);
              let safe = emittable(text, req.stop);
              while (safe > sent && text.charCodeAt(safe - 1) === 0xfffd) safe--; // a half-decoded character
              if (safe > sent) {
                onText(text.slice(sent, safe));
                sent = safe;
              }
            },
          }
        : {}),
    },
    every,
  );
  const final = g!.text ?? '';
  if (onText && final.length > sent) onText(final.slice(sent));
  return g!;
}

const finishReason = (g: Generation) => (g.finishReason === 'length' ? 'length' : 'stop');

async function completions(m: ChatModel, ctx: RouteContext): Promise<void> {
  const req = parseChatRequest(await ctx.json());
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  // A completion stops at its next turn once its client left or its request was answered otherwise
  // (--timeout): the engine goes on to the next request instead of running to max_tokens.
  const stop = new AbortController();
  const ended = () =>
    stop.abort(new ServeError('E_POLICY', 'the request ended before its completion', 'none: the client left or the request timed out'));
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished) ended();
  });
  const every = { ...CHAT_YIELD, signal: stop.signal };
  const run = (job: () => Promise<Generation>) => ctx.submit(job).finally(ended);
  if (!req.stream) {
    const prepared = preparePrompt(m, req);
    const { value: g, timing } = await run(async () => complete(m, req, undefined, prepared, every));
    ctx.note(`queue=${timing.queueMs.toFixed(1)}ms run=${timing.runMs.toFixed(1)}ms tokens=${g.tokens.length}`);
    const body = JSON.stringify({
      id,
      object: 'chat.completion',
      created,
      model: m.id,
      choices: [{ index: 0, message: { role: 'assistant', content: g.text ?? '' }, finish_reason: finishReason(g) }],
      usage: { prompt_tokens: g.promptTokens, completion_tokens: g.tokens.length, total_tokens: g.promptTokens + g.tokens.length },
    });
    ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
    return;
  }
  const chunk = (delta: Record<string, string>, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: m.id, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const prepared = preparePrompt(m, req);
  const { value: g, timing } = await run(async () => {
    // Headers go out only once the request runs, so busy and timeout answers stay plain HTTP errors.
    ctx.res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    ctx.res.write(chunk({ role: 'assistant' }, null));
    try {
      return await complete(
        m,
        req,
        (delta) => void (ctx.res.writableEnded || ctx.res.write(chunk({ content: delta }, null))),
        prepared,
        every,
      );
    } catch (e) {
      // A stream the server already ended (a timeout) takes no more writes.
      if (!ctx.res.writableEnded)
        ctx.res.end(
          `data: ${JSON.stringify({ error: { code: 'E_POLICY', type: 'E_POLICY', message: 'generation failed (see the server log)' } })}\n\n`,
        );
      throw e;
    }
  });
  ctx.note(`stream queue=${timing.queueMs.toFixed(1)}ms run=${timing.runMs.toFixed(1)}ms tokens=${g.tokens.length}`);
  ctx.res.end(`${chunk({}, finishReason(g))}data: [DONE]\n\n`);
}

/** GET /v1/models and POST /v1/chat/completions for the server's `routes`. */
export function chatRoutes(m: ChatModel): Record<string, RouteHandler> {
  return {
    'GET /v1/models': async (ctx) => {
      const body = JSON.stringify({ object: 'list', data: [{ id: m.id, object: 'model', created: 0, owned_by: 'vlm2vla' }] });
      ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
    },
    'POST /v1/chat/completions': (ctx) => completions(m, ctx),
  };
}
