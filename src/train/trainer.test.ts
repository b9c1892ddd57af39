// Tests of the trainer: overfitting a small set in LoRA and full mode, base weights untouched by LoRA,
// only marked (assistant) tokens in the loss, exact resume after an interruption (in-process and
// after SIGKILL at a named crash point), metrics and the loss chart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../tensor/index.ts';
import { isVlmError } from '../errors/index.ts';
import { addAdapter, setActiveAdapter, adapterParameters, decoderTargets, PAPER_LORA } from '../models/index.ts';
import { train, makeBatch, evaluateLoss, lockRunDir, assertRunDirFree, TRAINER_DEFAULTS } from './trainer.ts';
import type { TrainerConfig } from './trainer.ts';
import { tinyModel, tinyExamples } from './testing/fixtures.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'vlm2vla-train-'));
const CFG: TrainerConfig = {
  ...TRAINER_DEFAULTS,
  steps: 100,
  batchSize: 4,
  schedule: { kind: 'constant', lr: 2e-2, warmupSteps: 0 },
  evalEvery: 0,
  checkpointEvery: 50,
  clip: 1,
};

test('only the marked tokens are trained: batch rows and targets', () => {
  const ex = tinyExamples(3);
  const { input, targets } = makeBatch(ex, 0);
  const want: number[] = [];
  ex.forEach((e, b) =>
    e.mask.forEach((m, t) => {
      if (m && t > 0) want.push(e.ids[t]!);
      void b;
    }),
  );
  assert.deepEqual([...targets], want);
  for (let i = 0; i < input.rows.length; i++) {
    const b = Math.floor(input.rows[i]! / input.length);
    const t = input.rows[i]! % input.length;
    assert.equal(ex[b]!.mask[t + 1], 1);
    assert.equal(input.ids[b * input.length + t + 1], targets[i]);
  }
});

test('LoRA overfits a small set and leaves the base weights bit-identical', async () => {
  const model = tinyModel();
  const before = new Map([...model.params].map(([k, w]) => [k, Float32Array.from((w as Tensor).data)]));
  const params = addAdapter(model, 'a', { ...PAPER_LORA, r: 8, alpha: 16, dropout: 0, targetModules: decoderTargets('gemma3') }, 3);
  setActiveAdapter(model, 'a');
  const data = tinyExamples(8);
  const start = evaluateLoss(model, data, 4);
  const dir = tmp();
  try {
    const r = await train({ model, params, train: data, val: data.slice(0, 2), config: CFG, outDir: dir, silent: true });
    const end = evaluateLoss(model, data, 4);
    assert.ok(start > 1 && end < 0.05, `loss ${start} → ${end}`);
    assert.equal(r.steps, 100);
    for (const [k, w] of model.params) assert.deepEqual((w as Tensor).data, before.get(k), `${k} changed`);
    assert.ok(existsSync(join(dir, 'loss.svg')));
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 100);
    assert.ok(lines.at(-1).valLoss < 0.1);
    assert.equal(adapterParameters(model, 'a').length, params.length);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('full fine-tuning overfits a small set', async () => {
  const model = tinyModel();
  const params = model.setTrainable(true);
  const data = tinyExamples(8);
  const dir = tmp();
  try {
    await train({
      model,
      params,
      train: data,
      val: [],
      config: { ...CFG, steps: 60, schedule: { kind: 'constant', lr: 3e-3, warmupSteps: 0 } },
      outDir: dir,
      silent: true,
    });
    const end = evaluateLoss(model, data, 4);
    assert.ok(end < 0.05, `loss → ${end}`);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

async function loraRun(dir: string, steps: number, resume: boolean, stopAt?: number): Promise<number[]> {
  const model = tinyModel();
  const params = addAdapter(model, 'a', { ...PAPER_LORA, r: 4, alpha: 8, dropout: 0.1, targetModules: decoderTargets('gemma3') }, 3);
  setActiveAdapter(model, 'a');
  const losses: number[] = [];
  try {
    await train({
      model,
      params,
      train: tinyExamples(10),
      val: [],
      outDir: dir,
      resume,
      silent: true,
      config: {
        ...CFG,
        steps,
        gradAccum: 2,
        batchSize: 3,
        checkpointEvery: 4,
        schedule: { kind: 'cosine', lr: 5e-3, warmupSteps: 2, minLrRatio: 0.1 },
      },
      onStep: (m) => {
        losses.push(m.loss);
        if (m.step === stopAt) throw new Error('interrupted');
      },
    });
  } catch (e) {
    if ((e as Error).message !== 'interrupted') throw e;
  }
  return losses;
}

test('resume after an interruption reproduces the uninterrupted losses exactly (dropout, accumulation, cosine)', async () => {
  const a = tmp();
  const b = tmp();
  try {
    const full = await loraRun(a, 14, false);
    const first = await loraRun(b, 14, false, 10);
    assert.deepEqual(first, full.slice(0, 10));
    const rest = await loraRun(b, 14, true);
    // The last checkpoint was at step 8: steps 9..14 are computed again.
    assert.deepEqual(rest, full.slice(8));
    const metrics = readFileSync(join(b, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).loss);
    assert.deepEqual(metrics, full);
  } finally {
    rmSync(a, { recursive: true });
    rmSync(b, { recursive: true });
  }
});

test('a run killed with SIGKILL resumes from its last checkpoint with the same losses', async () => {
  const a = tmp();
  const b = tmp();
  try {
    const full = await loraRun(a, 12, false);
    const child = fileURLToPath(new URL('./testing/train-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, b], {
      env: { ...process.env, VLM2VLA_CRASH_AT: 'train:step@7' },
      encoding: 'utf8',
    });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const rest = await loraRun(b, 12, true);
    assert.deepEqual(rest, full.slice(4));
  } finally {
    rmSync(a, { recursive: true });
    rmSync(b, { recursive: true });
  }
});

test('resuming into a run of other tensors, or from a checkpoint with edited state, is a typed error', async () => {
  const dir = tmp();
  const run = (r: number) => {
    const model = tinyModel();
    const params = addAdapter(model, 'a', { ...PAPER_LORA, r, alpha: 8, dropout: 0, targetModules: decoderTargets('gemma3') }, 3);
    setActiveAdapter(model, 'a');
    return train({
      model,
      params,
      train: tinyExamples(4),
      val: [],
      outDir: dir,
      resume: true,
      silent: true,
      config: { ...CFG, steps: 2, checkpointEvery: 1 },
    });
  };
  try {
    await run(4);
    await assert.rejects(run(2), (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /lora_A.weight \[4, 32\]/.test(e.message));
    const manifest = join(dir, 'checkpoints', 'step-00000002', 'manifest.json');
    const json = JSON.parse(readFileSync(manifest, 'utf8'));
    json.meta.rng = [1, 2, 'x', 4, null];
    writeFileSync(manifest, JSON.stringify(json));
    await assert.rejects(run(4), (e: unknown) => isVlmError(e) && e.code === 'E_CHECKPOINT_META' && e.field === 'meta.rng');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("a run folder has one trainer at a time; a dead trainer's lock is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-lock-'));
  try {
    assertRunDirFree(dir);
    const release = lockRunDir(dir);
    assert.throws(() => lockRunDir(dir), /in use by another trainer/);
    assert.throws(() => assertRunDirFree(dir), /in use by another trainer/);
    const model = tinyModel();
    await assert.rejects(
      train({
        model,
        params: model.setTrainable(true),
        train: tinyExamples(4),
        val: [],
        config: { ...TRAINER_DEFAULTS, steps: 1 },
        outDir: dir,
        silent: true,
      }),
      /in use/,
    );
    release();
    assert.ok(!existsSync(join(dir, '.lock')));
    // A live process holds it: refused. A process that has exited: taken over.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      writeFileSync(join(dir, '.lock'), `${live.pid}\n`);
      assert.throws(() => lockRunDir(dir), new RegExp(`process ${live.pid}`));
      // The pre-flight a command runs before loading its model refuses it too, without taking it.
      assert.throws(
        () => assertRunDirFree(dir),
        (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && new RegExp(`process ${live.pid}`).test(e.message),
      );
    } finally {
      live.kill('SIGKILL');
    }
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, '.lock'), `${dead.stdout}\n`);
    assertRunDirFree(dir);
    lockRunDir(dir)();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new run never overwrites a folder that holds checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-newrun-'));
  try {
    const run = (resume: boolean) => {
      const model = tinyModel();
      return train({
        model,
        params: model.setTrainable(true),
        train: tinyExamples(4),
        val: [],
        config: { ...TRAINER_DEFAULTS, steps: 1, schedule: { kind: 'constant', lr: 1e-3, warmupSteps: 0 } },
        outDir: dir,
        resume,
        silent: true,
      });
    };
    await run(false);
    await assert.rejects(run(false), (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /already holds checkpoints/.test(e.message));
    assert.ok(!existsSync(join(dir, '.lock')), 'the refused run left its lock behind');
    await run(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('learning-rate multipliers scale the steps of the matching parameters only; bad factors are usage errors', async () => {
  const deltas = async (lrMultipliers?: TrainerConfig['lrMultipliers']) => {
    const model = tinyModel();
    const params = model.setTrainable(true);
    const before = params.map((p) => Float32Array.from(p.data));
    const dir = tmp();
    try {
      await train({
        model,
        params,
        train: tinyExamples(4),
        val: [],
        outDir: dir,
        silent: true,
        config: { ...CFG, steps: 1, clip: 0, schedule: { kind: 'constant', lr: 1e-3, warmupSteps: 0 }, lrMultipliers },
      });
    } finally {
      rmSync(dir, { recursive: true });
    }
    return new Map(params.map((p, i) => [p.name!, p.data.map((v, k) => v - before[i]![k]!)]));
  };
  const plain = await deltas();
  const fast = await deltas([{ prefix: 'vision_tower.', factor: 4 }]);
  let vision = 0;
  for (const [name, d] of plain) {
    const f = fast.get(name)!;
    const want = name.startsWith('vision_tower.') ? 4 : 1;
    if (want === 4) vision++;
    // The first AdamW step moves a weight by lr·g/(|g| + ε): a full lr step unless the gradient is
    // below ε (e.g. key biases, which softmax ignores). Full steps must scale exactly.
    for (let k = 0; k < d.length; k++)
      if (Math.abs(d[k]!) > 5e-4) assert.ok(Math.abs(f[k]! / d[k]! - want) < 1e-2, `${name}[${k}]: ${f[k]} vs ${d[k]}`);
  }
  assert.ok(vision > 0, 'the tiny model has a vision tower');
  await assert.rejects(
    deltas([{ prefix: 'x', factor: 0 }]),
    (e: unknown) => isVlmError(e) && /multiplier for x must be > 0/.test((e as Error).message),
  );
});
