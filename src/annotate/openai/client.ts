// An OpenAI-compatible chat-completions client for long annotation jobs: our own retry layer
// (exponential backoff with jitter; 429/5xx/timeouts/unparseable bodies retried; Retry-After in
// seconds or as an HTTP date honoured and pausing every request of the job), a per-request timeout,
// a concurrency limit, requests- and tokens-per-minute limits, an on-disk cache keyed by the
// sha256 of the request (reruns cost nothing), and usage accounting. The API key is only ever put
// in the Authorization header: never in errors, logs, cache files or results.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VlmError } from '../../errors/index.ts';
import { Rng, writeFileAtomic } from '../../util/index.ts';

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  concurrency: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  cacheDir: string | null;
  /** First backoff delay; doubles per attempt, with ±50% jitter. */
  backoffMs: number;
  seed: number;
}

export const CLIENT_DEFAULTS: Omit<ClientOptions, 'baseUrl' | 'apiKey' | 'model'> = {
  timeoutMs: 60_000,
  maxRetries: 5,
  concurrency: 4,
  requestsPerMinute: 60,
  tokensPerMinute: 1_000_000,
  cacheDir: null,
  backoffMs: 1000,
  seed: 0,
};

export class ApiError extends VlmError {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super('E_API', message, { fix: 'check --base-url and --model; transient failures are retried automatically' });
  }
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  requests: number;
  cacheHits: number;
  retries: number;
}

export interface ChatResult {
  content: string;
  cached: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After as seconds or an HTTP date → milliseconds from now (capped at 10 minutes). */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const s = Number(header);
  if (header.trim() !== '' && Number.isFinite(s)) return Math.min(600_000, Math.max(0, s * 1000));
  const t = Date.parse(header);
  return Number.isFinite(t) ? Math.min(600_000, Math.max(0, t - now)) : null;
}

export class ChatClient {
  readonly usage: Usage = { promptTokens: 0, completionTokens: 0, requests: 0, cacheHits: 0, retries: 0 };
  #active = 0;
  #waiters: (() => void)[] = [];
  #pausedUntil = 0;
  #sent: number[] = [];
  #tokens: { t: number; n: number }[] = [];
  readonly #rng: Rng;

  constructor(readonly opts: ClientOptions) {
    this.#rng = new Rng(opts.seed);
    if (opts.cacheDir) mkdirSync(opts.cacheDir, { recursive: true });
  }

  async #acquire(): Promise<void> {
    if (this.#active < this.opts.concurrency) {
      this.#active++;
      return;
    }
    await new Promise<void>((r) => this.#waiters.push(r));
    this.#active++;
  }

  #release(): void {
    this.#active--;
    this.#waiters.shift()?.();
  }

  /** Waits for a Retry-After pause and for the per-minute budgets. */
  async #pace(estimatedTokens: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now < this.#pausedUntil) {
        await sleep(this.#pausedUntil - now);
        continue;
      }
      this.#sent = this.#sent.filter((t) => now - t < 60_000);
      this.#tokens = this.#tokens.filter((x) => now - x.t < 60_000);
      const used = this.#tokens.reduce((a, x) => a + x.n, 0);
      if (this.#sent.length >= this.opts.requestsPerMinute) {
        await sleep(60_000 - (now - this.#sent[0]!) + 5);
        continue;
      }
      if (used > 0 && used + estimatedTokens > this.opts.tokensPerMinute) {
        await sleep(60_000 - (now - this.#tokens[0]!.t) + 5);
        continue;
      }
      this.#sent.push(now);
      this.#tokens.push({ t: now, n: estimatedTokens });
      return;
    }
  }

  /** One chat completion; `body` is the request without `model`. `check` returns an error message
   *  for content that is not acceptable (wrong schema): such replies are retried and never cached. */
  async chat(body: Record<string, unknown>, check: (content: string) => string | null = () => null): Promise<ChatResult> {
    const request = { model: this.opts.model, ...body };
    const text = JSON.stringify(request);
    const key = createHash('sha256').update(`${this.opts.baseUrl}\n${text}`).digest('hex');
    const cachePath = this.opts.cacheDir ? join(this.opts.cacheDir, `${key}.json`) : null;
    if (cachePath && existsSync(cachePath)) {
      try {
        const hit = JSON.parse(readFileSync(cachePath, 'utf8')) as { content: string };
        if (check(hit.content) === null) {
          this.usage.cacheHits++;
          return { content: hit.content, cached: true };
        }
      } catch {
        // A damaged cache entry is ignored and rewritten.
      }
    }
    await this.#acquire();
    try {
      let lastError = 'no attempt made';
      for (let attempt = 0; attempt <= this.opts.maxRetries; attempt++) {
        if (attempt > 0) {
          this.usage.retries++;
          const base = this.opts.backoffMs * 2 ** (attempt - 1);
          await sleep(base * (0.5 + this.#rng.next()));
        }
        await this.#pace(Math.ceil(text.length / 4));
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs);
        let res: Response;
        try {
          res = await fetch(`${this.opts.baseUrl.replace(/\/$/, '')}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.apiKey}` },
            body: text,
            signal: controller.signal,
          });
        } catch (e) {
          clearTimeout(timer);
          lastError =
            (e as Error).name === 'AbortError' ? `timed out after ${this.opts.timeoutMs} ms` : `network error: ${(e as Error).message}`;
          continue;
        }
        this.usage.requests++;
        let raw: string;
        try {
          raw = await res.text();
        } catch (e) {
          clearTimeout(timer);
          lastError = (e as Error).name === 'AbortError' ? `timed out after ${this.opts.timeoutMs} ms` : 'the response body was cut off';
          continue;
        }
        clearTimeout(timer);
        if (res.status === 429 || res.status >= 500) {
          const wait = retryAfterMs(res.headers.get('retry-after'));
          if (wait !== null) this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + wait);
          lastError = `HTTP ${res.status}`;
          continue;
        }
        if (!res.ok)
          throw new ApiError(`HTTP ${res.status} from the API: ${raw.slice(0, 200).replaceAll(this.opts.apiKey, '***')}`, res.status);
        let parsed: { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
        try {
          parsed = JSON.parse(raw);
        } catch {
          lastError = 'the response is not JSON';
          continue;
        }
        const content = parsed.choices?.[0]?.message?.content;
        if (typeof content !== 'string') {
          lastError = 'the response has no choices[0].message.content';
          continue;
        }
        const problem = check(content);
        if (problem !== null) {
          lastError = `the reply does not follow the schema: ${problem}`;
          continue;
        }
        this.usage.promptTokens += parsed.usage?.prompt_tokens ?? 0;
        this.usage.completionTokens += parsed.usage?.completion_tokens ?? 0;
        if (cachePath) writeFileAtomic(cachePath, JSON.stringify({ content }));
        return { content, cached: false };
      }
      throw new ApiError(`gave up after ${this.opts.maxRetries + 1} attempts: ${lastError}`, null);
    } finally {
      this.#release();
    }
  }
}
