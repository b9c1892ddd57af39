// Model back-ends of the language policies: one call per stage (images + user text → the answer
// text), either on the embedded engine (a model folder, optional adapter; grammar-constrained
// decoding; stage prompts share their KV prefix) or on any OpenAI-compatible chat endpoint with
// image input (vLLM, llama.cpp server, Gemini), sending the stage's grammar as GBNF or a regular
// expression when the server takes one.
import type { Grammar } from '../actions/index.ts';
import { actionIdsToText, tokenMarkers } from '../actions/action-tokens.ts';
import type { MarkerTokens } from '../actions/action-tokens.ts';
import { GrammarConstraint, TokenTrie, tokenSurfaceTexts } from '../decode/index.ts';
import type { SamplingConfig } from '../decode/index.ts';
import { DecodeSession } from '../decode/session.ts';
import { UsageError } from '../errors/index.ts';
import { encodePng } from '../data/image.ts';
import type { RgbImage } from '../data/image.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import type { Gemma3Model } from '../models/index.ts';
import { loadChatModel } from '../models/index.ts';
import { expandImageTokens } from '../tokenizer/index.ts';
import type { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import { ChatClient, CLIENT_DEFAULTS } from '../annotate/openai/client.ts';
import { toGbnf, toRegex } from './grammars.ts';

export interface StageRequest {
  /** Stage name (for timing and traces). */
  stage: string;
  images: readonly RgbImage[];
  /** The user turn's text (the stage prompt, rendered). */
  text: string;
  /** Constrain the answer to this grammar (null: free text). */
  grammar: Grammar | null;
  sampling: SamplingConfig;
  maxNewTokens: number;
  seed: number;
}

export interface StageOutput {
  text: string;
  /** `length`: cut at maxNewTokens. */
  finishReason: 'eos' | 'stop' | 'length';
  ms: number;
  promptTokens: number;
  newTokens: number;
  /** Prompt tokens served from the KV cache (engine only). */
  reusedTokens: number;
  /** Whether the grammar was enforced while decoding. */
  constrained: boolean;
}

export interface ModelBackend {
  readonly name: string;
  /** What the policy's metadata shows of this back-end. */
  describe(): Record<string, unknown>;
  generate(req: StageRequest): Promise<StageOutput>;
  /** Forgets cached state (the KV prefix) so an episode does not depend on the one before. */
  reset?(): void;
  close?(): Promise<void>;
}

/** Token surface texts and their trie, built once per tokenizer (and per action-token remap) and
 *  shared by every back-end over it: a server makes one back-end per client session. */
interface Vocabulary {
  texts: (string | null)[];
  trie: TokenTrie;
}
const vocabularies = new WeakMap<Tokenizer, { plain: Vocabulary | null; marked: WeakMap<MarkerTokens, Vocabulary> }>();

function vocabularyOf(tokenizer: Tokenizer, actionTokens: MarkerTokens | null): Vocabulary {
  let entry = vocabularies.get(tokenizer);
  if (!entry) vocabularies.set(tokenizer, (entry = { plain: null, marked: new WeakMap() }));
  if (!actionTokens) {
    if (!entry.plain) {
      const texts = tokenSurfaceTexts(tokenizer);
      entry.plain = { texts, trie: new TokenTrie(texts) };
    }
    return entry.plain;
  }
  let v = entry.marked.get(actionTokens);
  if (!v) {
    const texts = tokenSurfaceTexts(tokenizer);
    const markers = tokenMarkers(actionTokens);
    actionTokens.ids.forEach((id, k) => {
      if (id < texts.length) texts[id] = markers[k]!;
    });
    entry.marked.set(actionTokens, (v = { texts, trie: new TokenTrie(texts) }));
  }
  return v;
}

/** The embedded engine: a loaded model with its tokenizer and chat template. Several back-ends may
 *  share one model (each has its own KV cache) as long as their calls do not overlap (a server runs
 *  one at a time). */
export class EngineBackend implements ModelBackend {
  readonly name = 'engine';
  readonly #session: DecodeSession;
  #trie: TokenTrie;
  #texts: (string | null)[];
  #actionTokens: MarkerTokens | null = null;
  readonly #stopIds: number[];
  readonly #imageSize: number;
  /** Pixels of recently seen frames (a cycle's frame is used by several stages). */
  readonly #pixelCache = new Map<RgbImage, Float32Array>();
  /** Disable KV prefix reuse (benchmarks compare both). */
  reusePrefix = true;

  constructor(
    readonly model: Gemma3Model,
    readonly tokenizer: Tokenizer,
    readonly template: ChatTemplate,
    readonly info: { model: string; adapter: string | null },
  ) {
    if (model.cfg.modelType !== 'gemma3')
      throw new UsageError(
        `the model is text-only (${model.cfg.modelType}); a policy needs a vision-language model`,
        'use a gemma3 model folder',
      );
    this.#session = new DecodeSession(model);
    ({ texts: this.#texts, trie: this.#trie } = vocabularyOf(tokenizer, null));
    const eos = model.text.eosTokenId;
    const stops = new Set(Array.isArray(eos) ? eos : [eos]);
    const eot = tokenizer.tokenToId('<end_of_turn>');
    if (eot !== null) stops.add(eot);
    this.#stopIds = [...stops];
    this.#imageSize = model.cfg.vision.imageSize;
  }

  reset(): void {
    this.#session.clear();
  }

  /** Loads a model folder and, if given, an adapter (a `vlm2vla train` run folder or a PEFT folder). */
  static load(modelDir: string, adapter?: string | null): EngineBackend {
    const { model, tokenizer, template } = loadChatModel(modelDir, adapter);
    return new EngineBackend(model, tokenizer, template, { model: modelDir, adapter: adapter ?? null });
  }

  describe(): Record<string, unknown> {
    return { backend: 'engine', model: this.info.model, adapter: this.info.adapter };
  }

  /** A model whose actions use marker tokens: its 256 bin ids (style `tokens`) or ten digit ids
   *  (style `at`) read — and are constrained — as the markers <a000>…<a255> or <d0>…<d9> that the
   *  codec parses; every other token keeps its text. */
  useActionTokens(t: MarkerTokens): void {
    ({ texts: this.#texts, trie: this.#trie } = vocabularyOf(this.tokenizer, t));
    this.#actionTokens = t;
  }

  #pixels(img: RgbImage): Float32Array {
    let p = this.#pixelCache.get(img);
    if (!p) {
      if (this.#pixelCache.size >= 4) this.#pixelCache.delete(this.#pixelCache.keys().next().value!);
      this.#pixelCache.set(img, (p = imageToPixels(img, this.#imageSize)));
    }
    return p;
  }

  /** The prompt ids of a stage request (as training encodes it: images first, then the text). */
  promptIds(req: Pick<StageRequest, 'images' | 'text'>): number[] {
    const cfg = this.model.cfg;
    if (cfg.modelType !== 'gemma3') throw new UsageError('a policy needs a vision-language model');
    const content: ChatMessage['content'] = [...req.images.map(() => ({ type: 'image' as const })), { type: 'text', text: req.text }];
    const rendered = this.template.render([{ role: 'user', content }], { addGenerationPrompt: true });
    const t = this.tokenizer;
    const name = (id: number) => t.idToToken(id)!;
    const text =
      req.images.length > 0
        ? expandImageTokens(rendered, {
            boi: name(cfg.boiTokenIndex),
            eoi: name(cfg.eoiTokenIndex),
            imageToken: name(cfg.imageTokenIndex),
            tokensPerImage: cfg.mmTokensPerImage,
          })
        : rendered;
    return t.encode(text);
  }

  /** What generate() gives the decoder for a request: the prompt ids and one pixel block per image. */
  stageInput(req: Pick<StageRequest, 'images' | 'text'>): { ids: number[]; images: Float32Array[] } {
    return { ids: this.promptIds(req), images: req.images.map((img) => this.#pixels(img)) };
  }

  /** The logits [T, V] of every position of the request's prompt followed by `continuation` (ids),
   *  prefilled by the session generate() uses (its KV prefix is replaced); for checks of the run-time
   *  path against training (src/policy/train-parity.test.ts). */
  prefillLogits(req: Pick<StageRequest, 'images' | 'text'>, continuation: readonly number[]): Float32Array {
    const { ids, images } = this.stageInput(req);
    return this.#session.prefillLogits([...ids, ...continuation], images);
  }

  async generate(req: StageRequest): Promise<StageOutput> {
    const started = performance.now();
    const { ids, images } = this.stageInput(req);
    if (!this.reusePrefix) this.#session.clear();
    const constraint = req.grammar ? new GrammarConstraint(req.grammar, this.#trie, this.#texts, this.#stopIds) : null;
    // The image placeholder is never an answer: sampled, it would be fed back without pixels.
    const cfg = this.model.cfg;
    const imageToken = cfg.modelType === 'gemma3' ? cfg.imageTokenIndex : -1;
    const out = this.#session.generate({
      ids,
      images,
      maxNewTokens: req.maxNewTokens,
      sampling: req.sampling,
      seed: req.seed,
      eosIds: this.#stopIds,
      logitsProcessor: (logits) => {
        if (constraint) constraint.apply(logits);
        if (imageToken >= 0) logits[imageToken] = -Infinity;
      },
      onToken: constraint ? (id) => void constraint.accept(id) : undefined,
    });
    return {
      text: this.#actionTokens
        ? actionIdsToText(out.tokens, this.#actionTokens, this.tokenizer)
        : this.tokenizer.decode(out.tokens, { skipSpecial: true }),
      finishReason: out.finishReason,
      ms: performance.now() - started,
      promptTokens: out.promptTokens,
      newTokens: out.tokens.length,
      reusedTokens: out.reusedTokens,
      constrained: constraint !== null,
    };
  }
}

/** Re-exported for the server's chat endpoint (its home is models/chat-model.ts). */
export { adapterFolder } from '../models/index.ts';

export type GrammarMode = 'none' | 'gbnf' | 'regex';

export interface OpenAIBackendOptions {
  baseUrl: string;
  model: string;
  /** The API key (read from the environment by the caller; never logged). */
  apiKey: string;
  /** How the server takes a grammar: llama.cpp's `grammar` (GBNF), vLLM's `guided_regex`, or none
   *  (answers are parsed strictly and retried by the policy). */
  grammar: GrammarMode;
  timeoutMs?: number;
  maxRetries?: number;
}

/** Any OpenAI-compatible chat endpoint with image input. */
export class OpenAIBackend implements ModelBackend {
  readonly name = 'openai';
  readonly #client: ChatClient;

  constructor(readonly opts: OpenAIBackendOptions) {
    this.#client = new ChatClient({
      ...CLIENT_DEFAULTS,
      baseUrl: opts.baseUrl,
      apiKey: opts.apiKey,
      model: opts.model,
      timeoutMs: opts.timeoutMs ?? 60_000,
      maxRetries: opts.maxRetries ?? 3,
      concurrency: 1,
      cacheDir: null,
    });
  }

  describe(): Record<string, unknown> {
    return { backend: 'openai', baseUrl: this.opts.baseUrl, model: this.opts.model, grammar: this.opts.grammar };
  }

  async generate(req: StageRequest): Promise<StageOutput> {
    const started = performance.now();
    const content: Record<string, unknown>[] = req.images.map((img) => ({
      type: 'image_url',
      image_url: { url: `data:image/png;base64,${Buffer.from(encodePng(img).bytes).toString('base64')}` },
    }));
    content.push({ type: 'text', text: req.text });
    const body: Record<string, unknown> = {
      messages: [{ role: 'user', content }],
      temperature: req.sampling.temperature,
      top_p: req.sampling.topP,
      max_tokens: req.maxNewTokens,
      seed: req.seed,
    };
    const constrained = req.grammar !== null && this.opts.grammar !== 'none';
    if (constrained && this.opts.grammar === 'gbnf') body.grammar = toGbnf(req.grammar!);
    if (constrained && this.opts.grammar === 'regex') body.guided_regex = toRegex(req.grammar!);
    const result = await this.#client.chat(body);
    const text = result.content.trim();
    return { text, finishReason: 'stop', ms: performance.now() - started, promptTokens: 0, newTokens: 0, reusedTokens: 0, constrained };
  }
}
