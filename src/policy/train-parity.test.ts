// The policy at run time and the trainer see the same thing. For SFT examples of every stage the
// builder writes (subtasks, plan, chunk, verify and direction with two images, act from
// `--reasoning none`), built from simulated episodes, on a tiny gemma3 with a trained LoRA adapter:
// the engine back-end's prompt ids, pixels, prefill logits and decode-step logits equal the
// trainer's encoding (`loadSftSplit`) and forward, and the answer's loss is the same both ways.
// Run time loads the model and adapter as the policy does (`EngineBackend.load`); training loads them
// as `finetune()` does. T tokens, V vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCodec } from '../actions/index.ts';
import { rulesAnnotator } from '../annotate/index.ts';
import type { AnnotationRecord } from '../annotate/index.ts';
import { encodePng } from '../data/image.ts';
import type { RgbImage } from '../data/image.ts';
import type { Episode } from '../data/episode.ts';
import { GREEDY } from '../decode/index.ts';
import { DecodeSession } from '../decode/session.ts';
import { Gemma3Model, loadAdapter, loadModel, parseGemma3Config, saveModel, setActiveAdapter } from '../models/index.ts';
import { buildSft, DEFAULT_EXAMPLES, episodeExamples } from '../sft/index.ts';
import type { ChatRecord, SftExample } from '../sft/index.ts';
import { render, runExpert, sampleTask } from '../sim/index.ts';
import { initBackend, noGrad } from '../tensor/index.ts';
import { ChatTemplate, Tokenizer, trainBpe } from '../tokenizer/index.ts';
import { finetune, loadSftSplit, makeBatch, nextTokenObjective } from '../train/index.ts';
import type { TrainExample } from '../train/index.ts';
import { Rng } from '../util/index.ts';
import { EngineBackend } from './backend.ts';

await initBackend();

/** Frames are rendered larger than the tower's input, so preprocessing really resizes. */
const FRAME = 40;
const TOWER = 16;
/** `<image_soft_token>` in the trained tokenizer (DEFAULT_SPECIAL_TOKENS order). */
const IMAGE_TOKEN = 8;
/** Logits (fp32 compute; bf16 base weights, fp32 adapter): |run time − training| ≤ ATOL + RTOL·|training|.
 *  Measured: the prefill equals the trainer's forward bit for bit; single-token decode steps differ
 *  by ≤ 3e-6 (other matrix shapes, other summation order). */
const ATOL = 2e-5;
const RTOL = 1e-5;
/** Mean cross-entropy (nats per token), run time vs the trainer (measured: ≤ 5e-7). */
const LOSS_TOL = 1e-5;

interface Simulated {
  episode: Episode;
  frames: RgbImage[];
  annotation: AnnotationRecord;
}

/** Expert episodes with lossless frames; the raw frames are what the policy would be given. */
async function simulate(n: number): Promise<Simulated[]> {
  const out: Simulated[] = [];
  for (let seed = 0; out.length < n; seed++) {
    const rng = new Rng(900 + seed);
    const frames: RgbImage[] = [];
    const { episode, success } = runExpert(sampleTask('pick-place', rng), rng, {
      episodeId: `parity-${seed}`,
      render: (world) => {
        const img = render(world, FRAME, FRAME);
        frames.push(img);
        return encodePng(img);
      },
    });
    if (!success) continue;
    const annotation = await rulesAnnotator.annotate(episode, out.length);
    if (annotation.status === 'ok') out.push({ episode, frames, annotation });
  }
  return out;
}

async function* each<T>(xs: readonly T[]): AsyncIterable<T> {
  yield* xs;
}

const textOf = (r: ChatRecord, role: 'user' | 'assistant') =>
  r.messages
    .find((m) => m.role === role)!
    .content.flatMap((c) => (c.type === 'text' ? [c.text] : []))
    .join('');

/** One SFT example as both sides see it: the record, what the builder made it from, the trainer's
 *  sequence and the run-time request (raw frames + the user text). */
interface Case {
  name: string;
  record: ChatRecord;
  example: TrainExample;
  request: { images: RgbImage[]; text: string };
}

/** Mean cross-entropy (float64) of `targets` from logits rows [n, V]. */
function crossEntropy(rows: Float32Array, V: number, targets: readonly number[]): number {
  let total = 0;
  targets.forEach((y, i) => {
    const row = rows.subarray(i * V, (i + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += max + Math.log(sum) - row[y]!;
  });
  return total / targets.length;
}

/** Largest violation of |a − b| ≤ ATOL + RTOL·|b| (≤ 0: within tolerance), and the largest |a − b|. */
function compare(a: Float32Array, b: Float32Array): { excess: number; maxAbs: number } {
  assert.equal(a.length, b.length);
  let excess = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!Number.isFinite(d)) return { excess: Infinity, maxAbs: Infinity };
    maxAbs = Math.max(maxAbs, d);
    excess = Math.max(excess, d - ATOL - RTOL * Math.abs(b[i]!));
  }
  return { excess, maxAbs };
}

test('run time and training agree on every stage: prompt ids, answer tokens, pixels, logits (prefill and decode) and loss', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-train-parity-'));
  try {
    const sims = await simulate(3);
    const build = (name: string, reasoning: 'full' | 'none') =>
      buildSft(
        each(sims.map((s) => s.episode)),
        sims.map((s) => s.annotation),
        { ...DEFAULT_EXAMPLES, reasoning, maxChunkElements: 2, outDir: join(dir, name), format: 'jsonl', valFraction: 0, seed: 0 },
      );
    await build('sft', 'full');
    await build('sft-nr', 'none');

    // A tiny gemma3 (vision tower 16 px, 4 image tokens per image) with bf16 weights as models/base
    // has, and its tokenizer trained on the dataset's text.
    const records = (name: string) =>
      readFileSync(join(dir, name, 'train.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ChatRecord);
    const texts = [...records('sft'), ...records('sft-nr')].flatMap((r) => [textOf(r, 'user'), textOf(r, 'assistant')]);
    const tok = trainBpe(texts, { vocabSize: 700 });
    const modelDir = join(dir, 'base');
    const cfg = parseGemma3Config({
      model_type: 'gemma3',
      text_config: {
        vocab_size: 704,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 16,
        sliding_window: 64,
        max_position_embeddings: 4096,
      },
      vision_config: {
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        image_size: TOWER,
        patch_size: 4,
      },
      mm_tokens_per_image: 4,
      boi_token_index: 6,
      eoi_token_index: 7,
      image_token_index: IMAGE_TOKEN,
    });
    saveModel(Gemma3Model.random(cfg, { seed: 1, std: 0.3 }), modelDir, { dtype: 'bf16' });
    writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
    writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));

    // A LoRA adapter trained for a few steps at a high rate, so its B matrices are far from zero.
    const run = join(dir, 'run');
    await finetune({
      model: modelDir,
      data: join(dir, 'sft'),
      out: run,
      steps: 6,
      batchSize: 4,
      lr: 2e-2,
      lora: { r: 4, alpha: 8, dropout: 0 },
      evalEvery: 100,
      checkpointEvery: 100,
      silent: true,
      log: () => {},
    });

    // Run time: as the policy loads a model and an adapter. Training: as finetune() does.
    const engine = EngineBackend.load(modelDir, run);
    const model = loadModel(modelDir);
    loadAdapter(model, join(run, 'adapter'));
    setActiveAdapter(model, 'default');
    const tokenizer = Tokenizer.fromDir(modelDir);
    const template = ChatTemplate.fromConfig(tokenizer.config, join(modelDir, 'tokenizer_config.json'))!;
    const enc = { tokenizer, template, cfg: model.cfg };
    const lora = [...model.projections().values()].flatMap((p) => (p.active ? [p.active.B] : []));
    assert.ok(
      lora.length > 0 && lora.every((B) => B.data.some((v) => Math.abs(v) > 1e-3)),
      'every LoRA B matrix has been trained away from zero',
    );

    // Every stage: the first record of each, and a verifier example of each answer.
    const cases: Case[] = [];
    for (const [name, reasoning] of [
      ['sft', 'full'],
      ['sft-nr', 'none'],
    ] as const) {
      const { examples, stats } = loadSftSplit(join(dir, name), 'train', enc, 4096);
      assert.equal(stats.tooLong, 0);
      const recs = records(name);
      assert.equal(examples.length, recs.length);
      // valFraction 0: the records are the builder's examples of each episode, in order.
      const built: { ex: SftExample; frames: RgbImage[] }[] = sims.flatMap((s) =>
        episodeExamples(s.episode, s.annotation, { ...DEFAULT_EXAMPLES, reasoning, maxChunkElements: 2 }, getCodec('list')).map((ex) => ({
          ex,
          frames: s.frames,
        })),
      );
      assert.equal(built.length, recs.length);
      const seen = new Set<string>();
      recs.forEach((record, i) => {
        const { ex, frames } = built[i]!;
        assert.deepEqual([record.meta.stage, textOf(record, 'user'), textOf(record, 'assistant')], [ex.stage, ex.user, ex.assistant]);
        const key = ex.stage === 'verify' ? `verify-${ex.assistant}` : ex.stage;
        if (seen.has(key)) return;
        seen.add(key);
        cases.push({
          name: key,
          record,
          example: examples[i]!,
          request: { images: ex.images.map((ref) => frames[ref.step]!), text: ex.user },
        });
      });
    }
    assert.deepEqual(cases.map((c) => c.name).sort(), ['act', 'chunk', 'direction', 'plan', 'subtasks', 'verify-no', 'verify-yes']);
    assert.ok(cases.filter((c) => c.request.images.length === 2).length === 3, 'verify (yes, no) and direction show two images');

    const V = model.text.vocabSize;
    const eot = tokenizer.tokenToId('<end_of_turn>')!;
    // The trainer's forward over all the cases in one right-padded batch, every row, no dropout.
    const { input, targets } = makeBatch(
      cases.map((c) => c.example),
      model.text.padTokenId,
    );
    const T = input.length;
    const trainerAll = noGrad(() => model.forward({ ...input, rows: null }).data.slice());
    // …and as the trainer computes it: only the rows whose next token is trained.
    const trainerRows = noGrad(() => model.forward(input).data.slice());
    assert.equal(trainerRows.length, targets.length * V);
    let trainedRow = 0;
    let worst = 0;
    let runTimeTotal = 0;

    for (const [b, c] of cases.entries()) {
      const { ids, mask, pixels } = c.example;
      const answer = textOf(c.record, 'assistant');
      const P = mask.indexOf(1);

      // (2) Token boundaries. The prompt is the run-time prompt, token for token, and nothing in it is
      // trained; the trained tokens are the run-time tokenizer's tokens of the answer text, then
      // <end_of_turn> (where generation stops), then the "\n" the template writes after the turn.
      const runtime = engine.stageInput(c.request);
      assert.deepEqual([...ids.subarray(0, P)], runtime.ids, `${c.name}: prompt ids`);
      assert.ok(
        mask.subarray(P).every((m) => m === 1),
        `${c.name}: one assistant turn, trained to the end`,
      );
      const answerIds = engine.tokenizer.encode(answer);
      assert.deepEqual([...ids.subarray(P)], [...answerIds, eot, ...engine.tokenizer.encode('\n')], `${c.name}: answer ids`);
      assert.equal(
        engine.tokenizer.decode(answerIds, { skipSpecial: true }),
        answer,
        `${c.name}: the answer's tokens read back as its text`,
      );
      assert.equal(runtime.ids[0], tokenizer.bosId, `${c.name}: one <bos>, first`);
      assert.equal(runtime.ids.filter((id) => id === tokenizer.bosId).length, 1);
      assert.equal(runtime.ids.filter((id) => id === IMAGE_TOKEN).length, c.request.images.length * 4);

      // Pixels: the raw frames resized at run time equal the dataset's PNGs decoded and resized.
      const runtimePixels = new Float32Array(runtime.images.reduce((a, p) => a + p.length, 0));
      runtime.images.reduce((at, p) => (runtimePixels.set(p, at), at + p.length), 0);
      assert.deepEqual(runtimePixels, pixels, `${c.name}: pixels`);

      // (1) Logits. The engine's prefill over prompt + answer against the trainer's forward, every
      // position of the sequence.
      const L = ids.length;
      const prefill = engine.prefillLogits(c.request, [...ids.subarray(P)]);
      assert.equal(prefill.length, L * V);
      const trainer = trainerAll.subarray(b * T * V, (b * T + L) * V);
      const all = compare(prefill, trainer);
      assert.ok(all.excess <= 0, `${c.name}: prefill vs trainer logits differ by up to ${all.maxAbs}`);
      worst = Math.max(worst, all.maxAbs);
      // The trainer's own rows (those it computes the loss on) are those positions of the full forward.
      const rows = trainerRows.subarray(trainedRow * V, (trainedRow + L - P) * V);
      const own = compare(prefill.subarray((P - 1) * V, (L - 1) * V), rows);
      assert.ok(own.excess <= 0, `${c.name}: prefill vs the trainer's loss rows differ by up to ${own.maxAbs}`);

      // The decode loop itself, teacher-forced to the answer: the logits each step samples from.
      const stepped: Float32Array[] = [];
      const toWrite = [...answerIds, eot];
      const session = new DecodeSession(engine.model);
      const out = session.generate({
        ids: runtime.ids,
        images: runtime.images,
        maxNewTokens: toWrite.length,
        sampling: GREEDY,
        eosIds: [],
        logitsProcessor: (logits, generated) => {
          stepped.push(logits.slice());
          logits.fill(-Infinity);
          logits[toWrite[generated.length]!] = 0;
        },
      });
      assert.deepEqual(out.tokens, toWrite);
      const decoded = new Float32Array(stepped.length * V);
      stepped.forEach((row, k) => decoded.set(row, k * V));
      const steps = compare(decoded, trainer.subarray((P - 1) * V, (P - 1 + toWrite.length) * V));
      assert.ok(steps.excess <= 0, `${c.name}: decode-step vs trainer logits differ by up to ${steps.maxAbs}`);
      worst = Math.max(worst, steps.maxAbs);

      // (3) Loss. The trainer's objective on this example against the cross-entropy of its trained
      // tokens from the run-time prefill, and the answer as generation writes it (through
      // <end_of_turn>) from the decode steps against the trainer's logits.
      const trained = [...ids.subarray(P)];
      const runTimeLoss = crossEntropy(prefill.subarray((P - 1) * V, (L - 1) * V), V, trained);
      runTimeTotal += runTimeLoss * trained.length;
      const trainerLoss = noGrad(() => nextTokenObjective(model, [c.example]).loss!.item());
      assert.ok(Math.abs(runTimeLoss - trainerLoss) <= LOSS_TOL, `${c.name}: loss ${runTimeLoss} at run time, ${trainerLoss} in training`);
      const written = crossEntropy(decoded, V, toWrite);
      const writtenTrainer = crossEntropy(trainer.subarray((P - 1) * V, (P - 1 + toWrite.length) * V), V, toWrite);
      assert.ok(
        Math.abs(written - writtenTrainer) <= LOSS_TOL,
        `${c.name}: answer loss ${written} decoding, ${writtenTrainer} in training`,
      );
      trainedRow += L - P;
    }
    assert.equal(trainedRow, targets.length);
    // The padded batch's loss is the token-weighted mean of the examples' run-time losses.
    const batchLoss = noGrad(() =>
      nextTokenObjective(
        model,
        cases.map((c) => c.example),
      ).loss!.item(),
    );
    assert.ok(
      Math.abs(batchLoss - runTimeTotal / targets.length) <= LOSS_TOL,
      `batch loss ${batchLoss} vs ${runTimeTotal / targets.length}`,
    );

    // The adapter matters: without it the logits move by far more than the tolerance.
    setActiveAdapter(model, null);
    const base = noGrad(() => model.forward({ ...input, rows: null }).data.slice());
    setActiveAdapter(model, 'default');
    let moved = 0;
    for (let i = 0; i < base.length; i++) moved = Math.max(moved, Math.abs(base[i]! - trainerAll[i]!));
    assert.ok(
      moved > 1000 * Math.max(worst, ATOL),
      `the adapter moves the logits by ${moved}; run time and training differ by at most ${worst}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
