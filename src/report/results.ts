// Reading a results folder for the report: RESULTS_DIR/results.json checked field by field against
// the experiment schema (src/experiment/types.ts), paths inside it confined to the folder, and the
// loss curves of each arm's metrics.jsonl. Every problem is a typed error naming the file and field.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { FormatError } from '../errors/index.ts';
import { readJsonl } from '../util/index.ts';

/** The schema results.json declares (src/experiment/types.ts writes it; experiment/ sits above report/
 *  in the layers, so the report reads the fields it shows through the types below). */
export const RESULTS_SCHEMA = 'vlm2vla.experiment/1';

export interface ReportedAccuracy {
  correct: number | null;
  total: number | null;
  accuracy: number | null;
}

export interface ReportedVqa {
  overall: number | null;
  categories: Partial<Record<string, ReportedAccuracy>>;
}

export interface ReportedSuite {
  episodes: number;
  successes: number;
  success_rate: number | null;
  interval: [number | null, number | null];
  malformed_per_cycle: number | null;
  cycle_ms_p50?: number | null;
  /** The arm's eval sim run folder, relative to the results folder. */
  run: string;
}

export interface ReportedArm {
  name: string;
  description: string;
  training: {
    mode?: string;
    steps: number | null;
    tokens: number | null;
    seconds: number | null;
    final_loss: number | null;
    final_val_loss?: number | null;
    metrics: string;
    vocabulary_share?: number | null;
  };
  vqa: ReportedVqa;
  retention: Partial<Record<string, number | null>>;
  sim: Record<string, ReportedSuite>;
}

/** What the report reads of RESULTS_DIR/results.json. */
export interface ReportedResults {
  schema: typeof RESULTS_SCHEMA;
  experiment: string;
  size: string;
  git_commit?: string | null;
  machine: { cpus?: number; model?: string; memory_gib?: number; node?: string };
  started?: string;
  finished?: string;
  base: { model: string; vqa: ReportedVqa };
  arms: ReportedArm[];
}

/** results.json larger than this is refused before parsing. */
export const MAX_RESULTS_BYTES = 64 * 1024 * 1024;

function failAt(
  file: string,
  field: string,
  message: string,
  fix = 'the results folder is damaged or from another version; rerun `vlm2vla experiment run`',
): never {
  throw new FormatError('E_REPORT_RESULTS', `${file}: ${field ? `${field}: ` : ''}${message}`, { file, field, fix });
}

/** `rel` (a path inside the results folder, as results.json writes it) resolved under `root`, or a
 *  typed error when it is absolute or leaves the folder. */
export function insideFolder(root: string, rel: string, file: string, field: string): string {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel) || rel.includes('\0'))
    failAt(file, field, `must be a relative path inside the results folder, got ${JSON.stringify(rel)}`);
  const full = resolve(root, normalize(rel));
  const back = relative(resolve(root), full);
  if (back === '..' || back.startsWith(`..${sep}`) || isAbsolute(back))
    failAt(file, field, `${JSON.stringify(rel)} leaves the results folder`);
  return full;
}

type Obj = Record<string, unknown>;

/** Reads and checks RESULTS_DIR/results.json. */
export function loadResults(dir: string): ReportedResults {
  const file = join(dir, 'results.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    failAt(dir, '', 'is not a folder', 'give the folder `vlm2vla experiment run` wrote (it holds results.json)');
  if (!existsSync(file))
    failAt(file, '', 'does not exist', 'give the folder `vlm2vla experiment run` wrote (it holds results.json), or let the run finish');
  if (statSync(file).size > MAX_RESULTS_BYTES) failAt(file, '', `is larger than ${MAX_RESULTS_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    failAt(file, '', `is not valid JSON (${(e as Error).message})`);
  }
  const obj = (v: unknown, field: string): Obj => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) failAt(file, field, 'must be an object');
    return v as Obj;
  };
  const str = (v: unknown, field: string): string => {
    if (typeof v !== 'string') failAt(file, field, 'must be a string');
    return v as string;
  };
  // JSON writes NaN and Infinity as null: a number field may be null (shown as "–").
  const num = (v: unknown, field: string): void => {
    if (v !== null && typeof v !== 'number') failAt(file, field, `must be a number, got ${JSON.stringify(v)}`);
  };
  const rate = (v: unknown, field: string): void => {
    num(v, field);
    if (typeof v === 'number' && !(v >= 0 && v <= 1)) failAt(file, field, `must be a fraction in 0…1, got ${v}`);
  };
  const vqa = (v: unknown, field: string): void => {
    const q = obj(v, field);
    num(q.overall, `${field}.overall`);
    for (const [c, a] of Object.entries(obj(q.categories, `${field}.categories`))) {
      const acc = obj(a, `${field}.categories.${c}`);
      for (const k of ['correct', 'total', 'accuracy']) num(acc[k], `${field}.categories.${c}.${k}`);
    }
  };
  const r = obj(value, '');
  if (r.schema !== RESULTS_SCHEMA) failAt(file, 'schema', `is ${JSON.stringify(r.schema)}, expected ${JSON.stringify(RESULTS_SCHEMA)}`);
  str(r.experiment, 'experiment');
  str(r.size, 'size');
  const base = obj(r.base, 'base');
  str(base.model, 'base.model');
  vqa(base.vqa, 'base.vqa');
  obj(r.machine, 'machine');
  if (!Array.isArray(r.arms)) failAt(file, 'arms', 'must be a list');
  (r.arms as unknown[]).forEach((a, i) => {
    const f = `arms[${i}]`;
    const arm = obj(a, f);
    str(arm.name, `${f}.name`);
    str(arm.description, `${f}.description`);
    const t = obj(arm.training, `${f}.training`);
    for (const k of ['steps', 'tokens', 'seconds', 'final_loss', 'final_val_loss', 'vocabulary_share'])
      num(t[k] ?? null, `${f}.training.${k}`);
    insideFolder(dir, str(t.metrics, `${f}.training.metrics`), file, `${f}.training.metrics`);
    vqa(arm.vqa, `${f}.vqa`);
    for (const [c, v] of Object.entries(obj(arm.retention, `${f}.retention`))) num(v, `${f}.retention.${c}`);
    for (const [s, v] of Object.entries(obj(arm.sim, `${f}.sim`))) {
      const g = obj(v, `${f}.sim.${s}`);
      if (typeof g.episodes !== 'number' || typeof g.successes !== 'number')
        failAt(file, `${f}.sim.${s}.episodes`, 'episodes and successes must be numbers');
      rate(g.success_rate, `${f}.sim.${s}.success_rate`);
      if (!Array.isArray(g.interval) || g.interval.length !== 2) failAt(file, `${f}.sim.${s}.interval`, 'must be [low, high]');
      (g.interval as unknown[]).forEach((x, j) => rate(x, `${f}.sim.${s}.interval[${j}]`));
      num(g.malformed_per_cycle, `${f}.sim.${s}.malformed_per_cycle`);
      insideFolder(dir, str(g.run, `${f}.sim.${s}.run`), file, `${f}.sim.${s}.run`);
    }
  });
  return value as ReportedResults;
}

export interface LossCurve {
  /** [step, loss] per logged step. */
  train: [number, number][];
  /** [step, validation loss] where one was measured. */
  val: [number, number][];
}

/** The loss curve of a training run's metrics.jsonl (`{step, loss, valLoss?}` per line). `field`
 *  names the results.json entry that points at it. */
export function readLossCurve(path: string, field: string): LossCurve {
  if (!existsSync(path))
    failAt(
      path,
      '',
      `does not exist (named by results.json ${field})`,
      "the arm's training run is missing from the results folder; rerun `vlm2vla experiment run`",
    );
  const train: [number, number][] = [];
  const val: [number, number][] = [];
  let bad = 0;
  const lines = readJsonl<Obj>(path, () => bad++);
  lines.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || typeof m.step !== 'number')
      failAt(path, `line ${i + 1}.step`, 'each line needs a numeric step');
    const loss = typeof m.loss === 'number' ? m.loss : Number.NaN;
    train.push([m.step as number, loss]);
    if (typeof m.valLoss === 'number') val.push([m.step as number, m.valLoss]);
  });
  if (bad > 0 && lines.length === 0) failAt(path, '', 'holds no JSON lines');
  return { train, val };
}
