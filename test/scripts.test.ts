// The research probes (experiments/probes/*.ts) answer bad flags and a missing model with a one-line
// usage error that names the script, and exit 1 — no stack trace; --help lists their flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = (name: string) => fileURLToPath(new URL(`../experiments/probes/${name}.ts`, import.meta.url));
const run = (name: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script(name), ...args], { encoding: 'utf8' });

for (const [name, args, message] of [
  ['question-forms', ['--n', '0'], 'question-forms: --n must be a whole number >= 1'],
  ['question-forms', ['--n', '1.5'], 'question-forms: --n must be a whole number >= 1'],
  ['question-forms', ['--max-objects', '9'], 'question-forms: --max-objects must be a whole number from 1 to 5'],
  ['naming-probe', ['--scenes', 'x'], 'naming-probe: --scenes must be a whole number >= 1'],
  ['attention-probe', ['--scenes=-2'], 'attention-probe: --scenes must be a whole number >= 1'],
  // Flags the parser rejects (Node's own wording, then the script's flags):
  ['attention-probe', ['--scenes', '-2'], /^attention-probe: .*'--scenes'.* \(flags: --model, --scenes\)$/],
  ['naming-probe', ['--bogus'], /^naming-probe: Unknown option '--bogus'.* \(flags: --model, --scenes\)$/],
  ['position-probe', ['--scenes', '19'], 'position-probe: --scenes must be a whole number >= 20'],
  ['grounding-probe', ['--steps', '0'], 'grounding-probe: --steps must be a positive whole number'],
  [
    'grounding-probe',
    ['--bogus', '1'],
    /^grounding-probe: Unknown option '--bogus'.* \(flags: --square, --steps, --lr, --vision-lr-factor, --at, --dense, --task, --tokenizer\)$/,
  ],
  ['attention-probe', ['--model', '/nonexistent-model-dir'], 'attention-probe: /nonexistent-model-dir/config.json does not exist'],
] as const) {
  test(`${name} ${args.join(' ')}: a usage error, exit 1`, () => {
    const r = run(name, ...args);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    if (typeof message === 'string') assert.equal(r.stderr.trim(), message);
    else assert.match(r.stderr.trim(), message);
  });
}

for (const name of ['attention-probe', 'naming-probe', 'position-probe', 'question-forms', 'grounding-probe']) {
  test(`${name} --help: its flags, exit 0`, () => {
    const r = run(name, '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: node --import tsx .*${name}\\.ts \\[flags\\]\nflags:\n  --`));
  });
}
