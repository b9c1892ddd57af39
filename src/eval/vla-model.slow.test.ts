// The committed VLA adapter (models/vla) against its own card: the file layout and the 5 MB limit,
// the held-out VQA accuracy per category with the adapter recomputed now (it must match card.json
// and the README.md table), and the in-distribution closed-loop success on `pick` (the same seeded
// episodes, greedy: deterministic up to float-sum order across thread counts, so a count may move by
// an episode or two). The per-stage action outputs need the SFT set scripts/make-vla.sh builds
// (about 12 minutes of collection) and are not re-checked here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../tensor/index.ts';
import type { VqaCategory } from '../corpus/conversation.ts';
import { evaluateVqa, loadVqaModel } from './vqa.ts';
import { evaluateSim, EPISODE_DEFAULTS } from './closed-loop.ts';
import { createEvalPolicy } from './policies.ts';
import type { EvalPolicySpec } from './policies.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'models', 'vla');
const base = join(root, 'models', 'base');

interface Card {
  adapterBytes: number;
  vqa: { seed: number; perCategory: number; overall: number; categories: Record<string, { accuracy: number }> };
  sim: Record<
    string,
    {
      seed: number;
      episodesPerSuite: number;
      suites: Record<string, { families: Record<string, { episodes: number; successes: number }> }>;
    }
  >;
}

test(
  "models/vla: layout, size, and the card's VQA and closed-loop numbers",
  { skip: !existsSync(dir) && 'models/vla is not committed' },
  async () => {
    await initBackend();
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'README.md', 'card.json'])
      assert.ok(existsSync(join(dir, f)), `models/vla/${f} is missing`);
    const bytes = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    assert.ok(bytes <= 5 * 1024 * 1024, `models/vla is ${(bytes / 2 ** 20).toFixed(2)} MB, the limit is 5 MB`);
    const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as Card;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    assert.match(readme, /vlm2vla train --preset vla --model models\/base/);

    const categories = Object.keys(card.vqa.categories) as VqaCategory[];
    const report = evaluateVqa(loadVqaModel(base, dir), {
      seed: card.vqa.seed,
      perCategory: card.vqa.perCategory,
      categories,
      silent: true,
    });
    for (const c of categories) {
      const want = card.vqa.categories[c]!.accuracy;
      assert.ok(Math.abs(report.categories[c].accuracy - want) <= 0.02, `${c}: ${report.categories[c].accuracy} now, ${want} on the card`);
      assert.ok(readme.includes(`| ${(want * 100).toFixed(1)}% |`), `the card's ${c} row does not show ${want}`);
    }
    assert.ok(Math.abs(report.overall - card.vqa.overall) <= 0.01, `overall ${report.overall} now, ${card.vqa.overall} on the card`);

    const pick = card.sim.pick!;
    const want = pick.suites['in-distribution']!.families.pick!;
    const out = mkdtempSync(join(tmpdir(), 'vlm2vla-vla-card-'));
    try {
      const spec: EvalPolicySpec = {
        kind: 'model',
        seed: pick.seed,
        model: base,
        adapter: dir,
        greedy: true,
        verifier: 'model',
        constrained: true,
      };
      const r = await evaluateSim({
        policy: () => createEvalPolicy(spec),
        policyInfo: { ...spec },
        policySpec: spec,
        suites: ['in-distribution'],
        families: ['pick'],
        episodes: pick.episodesPerSuite,
        seed: pick.seed,
        out,
        limits: EPISODE_DEFAULTS,
        workers: 2,
        silent: true,
      });
      const got = r.suites['in-distribution']!.families.pick!;
      assert.equal(got.episodes, want.episodes);
      assert.ok(
        Math.abs(got.successes - want.successes) <= 2,
        `pick: ${got.successes}/${got.episodes} now, ${want.successes}/${want.episodes} on the card`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
