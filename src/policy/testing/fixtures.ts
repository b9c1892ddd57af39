// Test fixtures of the policy: a scripted back-end that answers each stage with chosen text (good,
// malformed or hostile), and a tiny random engine (a real model, tokenizer and template).
import { ChatTemplate, Tokenizer, trainBpe } from '../../tokenizer/index.ts';
import { Gemma3Model } from '../../models/index.ts';
import { corpusTexts } from '../../corpus/index.ts';
import { PRETRAIN_PRESETS, presetConfig } from '../../pretrain/index.ts';
import { EngineBackend } from '../backend.ts';
import type { ModelBackend, StageOutput, StageRequest } from '../backend.ts';

/** Answers stage `s` with the next text of `script[s]` (the last one repeats). */
export class ScriptedBackend implements ModelBackend {
  readonly name = 'scripted';
  readonly requests: StageRequest[] = [];
  readonly #at = new Map<string, number>();

  constructor(readonly script: Record<string, string[]>) {}

  describe(): Record<string, unknown> {
    return { backend: 'scripted' };
  }

  async generate(req: StageRequest): Promise<StageOutput> {
    this.requests.push(req);
    const answers = this.script[req.stage] ?? [''];
    const k = this.#at.get(req.stage) ?? 0;
    this.#at.set(req.stage, k + 1);
    const text = answers[Math.min(k, answers.length - 1)]!;
    return { text, finishReason: 'eos', ms: 0, promptTokens: 0, newTokens: 0, reusedTokens: 0, constrained: false };
  }
}

/** A random tiny VLM (the `tiny` pretraining preset's shape) with a BPE tokenizer of the corpus. */
export function tinyEngine(seed = 0): EngineBackend {
  const trained = trainBpe(
    [...corpusTexts(0, 200), '[[1.0, -2.5, 0.0, 1]] ["pick up the carrot", "lift it"] move up and slightly left, then down yes no'],
    { vocabSize: 500 },
  );
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
  const model = Gemma3Model.random(presetConfig(PRETRAIN_PRESETS.tiny!, tokenizer), { seed });
  return new EngineBackend(model, tokenizer, template, { model: 'tiny', adapter: null });
}
