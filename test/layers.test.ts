// The import boundaries of DESIGN.md §2: a module of src/ imports only from its own layer or the layers
// below it, no two modules import each other (directly or in a circle), no two files do, and the
// policy server's protocol and client import nothing from tensor/ or models/ (so the client stays an
// engine-free package path). Known violations are listed below; the list may only shrink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

/** DESIGN.md §2, top to bottom; modules on one line share a layer. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'index.ts'],
  ['experiment'],
  ['report', 'eval'],
  ['serve'],
  ['policy'],
  ['pretrain'],
  ['train'],
  ['decode'],
  ['corpus'],
  ['annotate', 'sft'],
  ['prompts'],
  ['actions'],
  ['models'],
  // DESIGN.md §2 lists data/ above sim/, but the simulator makes Episodes (data's type) and encodes
  // frames with data's image codecs, and data imports nothing of sim: sim sits above data.
  ['sim'],
  ['data'],
  ['tokenizer', 'formats'],
  ['nn'],
  ['tensor'],
  ['errors', 'util', 'version.ts', 'types'],
];

/** Imports that break the order today, as "from → to" module pairs. The list may only shrink: a new
 *  pair fails the test; fix one, then delete its line. */
const KNOWN_UPWARD = new Set<string>([]);

/** Files that import each other today (sorted, joined with ↔). Same rule: may only shrink. */
const KNOWN_FILE_CIRCLES = new Set<string>([]);

const rank = new Map<string, number>();
LAYERS.forEach((mods, i) => mods.forEach((m) => rank.set(m, LAYERS.length - i)));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testing' ? [] : files(p);
    return /\.ts$/.test(e.name) && !/\.(test|slow\.test)\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The module of a file of src/: its first path segment (a folder, or a file at the top). */
const moduleOf = (file: string) => relative(SRC, file).split(/[\\/]/)[0]!;

/** Relative imports of a file (static, type-only, re-exports and dynamic with a literal), resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  )) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    out.push(resolve(dirname(file), spec));
  }
  return out;
}

const all = files(SRC);
const graph = new Map(all.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC + '/') || t.startsWith(SRC + '\\'))]));

test('every module of src/ is placed in a layer', () => {
  const unplaced = [...new Set(all.map(moduleOf))].filter((m) => !rank.has(m));
  assert.deepEqual(unplaced, [], 'add the new module to LAYERS (and to DESIGN.md §2)');
});

test('imports point down the layers of DESIGN.md §2 (known exceptions listed, and only shrinking)', (t) => {
  const upward = new Map<string, string[]>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = moduleOf(from);
      const b = moduleOf(to);
      if (a === b || !rank.has(a) || !rank.has(b) || rank.get(b)! <= rank.get(a)!) continue;
      const pair = `${a} → ${b}`;
      upward.set(pair, [...(upward.get(pair) ?? []), `${relative(ROOT, from)} imports ${relative(ROOT, to)}`]);
    }
  }
  const fresh = [...upward.keys()].filter((p) => !KNOWN_UPWARD.has(p));
  assert.deepEqual(
    fresh,
    [],
    `upward imports: ${fresh.map((p) => upward.get(p)!.join('; ')).join(' | ')} — import from a lower layer, or move the code down`,
  );
  for (const p of [...KNOWN_UPWARD].filter((k) => !upward.has(k))) t.diagnostic(`${p} is gone: delete it from KNOWN_UPWARD`);
});

/** Strongly connected components of more than one node (Tarjan), each as a sorted list. */
function circles(nodes: readonly string[], edges: (n: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

test('src/ imports nothing outside src/ (experiments/, scripts/, bench/, test/)', () => {
  const outside = all.flatMap((f) =>
    importsOf(f)
      .filter((t) => !t.startsWith(SRC))
      .map((t) => `${relative(ROOT, f)} imports ${relative(ROOT, t)}`),
  );
  assert.deepEqual(outside, []);
});

test('no two modules import each other, directly or in a circle', () => {
  const edges = new Map<string, Set<string>>();
  for (const [from, targets] of graph)
    for (const to of targets)
      if (moduleOf(from) !== moduleOf(to)) edges.set(moduleOf(from), (edges.get(moduleOf(from)) ?? new Set()).add(moduleOf(to)));
  const modules = [...new Set(all.map(moduleOf))];
  const found = circles(modules, (m) => [...(edges.get(m) ?? [])]).map((c) => c.join(' ↔ '));
  assert.deepEqual(found, []);
});

test('no two files import each other, directly or in a circle (known exceptions listed)', (t) => {
  const found = circles(all, (f) => (graph.get(f) ?? []).filter((x) => graph.has(x))).map((c) =>
    c.map((f) => relative(ROOT, f)).join(' ↔ '),
  );
  assert.deepEqual(
    found.filter((c) => !KNOWN_FILE_CIRCLES.has(c)),
    [],
    'break the circle: move what both need into a third file',
  );
  for (const c of [...KNOWN_FILE_CIRCLES].filter((k) => !found.includes(k)))
    t.diagnostic(`${c} is gone: delete it from KNOWN_FILE_CIRCLES`);
});

test('serve/protocol and the client import nothing from tensor/ or models/, even indirectly', (t) => {
  const roots = ['protocol.ts', 'client.ts'].map((f) => join(SRC, 'serve', f)).filter((f) => existsSync(f));
  if (roots.length === 0) return t.skip('src/serve/protocol.ts and client.ts are not there yet');
  for (const root of roots) {
    const seen = new Set<string>();
    const path = new Map<string, string>([[root, relative(ROOT, root)]]);
    const todo = [root];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const m = moduleOf(f);
      assert.ok(m !== 'tensor' && m !== 'models', `${path.get(f)}: the engine-free ${relative(ROOT, root)} reaches ${m}/`);
      for (const to of graph.get(f) ?? []) {
        if (!path.has(to)) path.set(to, `${path.get(f)} → ${relative(ROOT, to)}`);
        todo.push(to);
      }
    }
  }
});
