// The policy cycle on this machine: one hierarchical cycle (stage 2 plan + stage 3 chunk + the model's
// self-verification) of models/base with a LoRA adapter (r 16 on every decoder projection, as the
// paper's recipe; freshly initialised, so it costs what a trained one costs), every stage under its
// grammar, greedy — with KV prefix reuse and, in the same run on the same frames, without it.
// Prints p50/p95 per cycle and per stage, tokens generated, and prompt tokens served from the cache.
// Target (issue #20): a whole cycle p50 ≤ 60 ms on 2 cores.
// Run: node --import tsx bench/policy.ts [--cycles 40] [--model models/base]
import { getCodec } from '../src/actions/index.ts';
import { GREEDY } from '../src/decode/index.ts';
import { addAdapter, setActiveAdapter, loraConfig } from '../src/models/index.ts';
import { EngineBackend } from '../src/policy/backend.ts';
import { GREEDY_SAMPLING, HIERARCHICAL_DEFAULTS, HierarchicalPolicy } from '../src/policy/hierarchical.ts';
import { ModelVerifier } from '../src/policy/verifiers.ts';
import { CHUNK_FORMATS } from '../src/prompts/index.ts';
import { Rollout, render, sampleTask } from '../src/sim/index.ts';
import { initBackend } from '../src/tensor/index.ts';
import { Rng } from '../src/util/index.ts';
import { printMachineLoad, verdict } from './machine.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const CYCLES = Number(opt('cycles', '40'));
const MODEL = opt('model', 'models/base');

const load = printMachineLoad();
await initBackend();
const engine = EngineBackend.load(MODEL);
addAdapter(engine.model, 'default', { ...loraConfig(engine.model.cfg.modelType), baseModel: MODEL }, 0);
setActiveAdapter(engine.model, 'default');
const policy = new HierarchicalPolicy({
  ...HIERARCHICAL_DEFAULTS,
  backend: engine,
  codec: getCodec('list'),
  formatHint: CHUNK_FORMATS.list!,
  verifier: new ModelVerifier(engine, 'model', GREEDY),
  sampling: GREEDY_SAMPLING,
  seed: 0,
});

const frames = Array.from({ length: CYCLES + 1 }, (_, i) => {
  const task = sampleTask('pick', new Rng(i));
  return { image: render(new Rollout(task).world, 128, 128), instruction: task.instruction };
});

async function run(
  reuse: boolean,
): Promise<{ cycle: number[]; stages: Record<string, number[]>; tokens: number; reused: number; prompt: number }> {
  engine.reusePrefix = reuse;
  const cycle: number[] = [];
  const stages: Record<string, number[]> = {};
  let reused = 0;
  let prompt = 0;
  let tokens = 0;
  await policy.reset(frames[0]!.instruction, { seed: 1 });
  // Cycle 0 writes the subtasks; it is not timed. Every timed cycle verifies, plans and writes a chunk.
  await policy.infer({ image: frames[0]!.image, state: Float32Array.of(0.3, 0, 0.25, 0, 0, 0, 1), instruction: frames[0]!.instruction });
  for (let c = 1; c <= CYCLES; c++) {
    const r = await policy.infer({
      image: frames[c]!.image,
      state: Float32Array.of(0.3, 0, 0.25, 0, 0, 0, 1),
      instruction: frames[0]!.instruction,
    });
    if (r.done) {
      await policy.reset(frames[0]!.instruction, { seed: c });
      continue;
    }
    // A cycle right after a reset writes the subtasks first: not a steady-state cycle.
    if (r.timing.stages.subtasks !== undefined) continue;
    cycle.push(r.timing.totalMs);
    for (const [s, ms] of Object.entries(r.timing.stages)) (stages[s] ??= []).push(ms);
    reused += policy.lastStats!.reusedTokens;
    prompt += policy.lastStats!.promptTokens;
    tokens += (r.text?.plan?.length ?? 0) + (r.text?.chunk?.length ?? 0);
  }
  return { cycle, stages, tokens, reused, prompt };
}

const q = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!;
const show = (name: string, r: Awaited<ReturnType<typeof run>>) => {
  const st = Object.entries(r.stages)
    .map(([s, v]) => `${s} ${q(v, 0.5).toFixed(1)}/${q(v, 0.95).toFixed(1)}`)
    .join(', ');
  console.log(
    `${name.padEnd(18)} cycle p50 ${q(r.cycle, 0.5).toFixed(1)} ms, p95 ${q(r.cycle, 0.95).toFixed(1)} ms over ${r.cycle.length} cycles; per stage p50/p95 ms: ${st}; prompt tokens from cache ${((100 * r.reused) / Math.max(1, r.prompt)).toFixed(0)}% (the chunk and plan text: ${(r.tokens / Math.max(1, r.cycle.length)).toFixed(0)} chars per cycle)`,
  );
};
// Warm-up (page faults, caches), then the two settings alternately.
await run(true);
const withReuse = await run(true);
const without = await run(false);
show('with prefix reuse', withReuse);
show('without', without);
const p50 = q(withReuse.cycle, 0.5);
console.log(`speed-up of prefix reuse (p50): ${(q(without.cycle, 0.5) / p50).toFixed(2)}x`);
console.log(`target: cycle p50 ≤ 60 ms on 2 cores — ${verdict(p50 <= 60, load)} (${p50.toFixed(1)} ms)`);
