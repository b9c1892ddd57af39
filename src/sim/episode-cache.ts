// One finished episode as a JSON checkpoint file (what `sim collect` keeps while it runs so a rerun
// skips finished episodes): the Episode with Float32Arrays as number lists (exact: every float32 is
// a double) and image bytes as base64. Reading validates every field and raises E_SIM_CACHE.
import { readFileSync, statSync } from 'node:fs';
import { FormatError } from '../errors/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import type { EncodedImage, Episode, Step } from '../data/episode.ts';

export const CACHE_VERSION = 1;
/** Largest checkpoint file read (bytes); checked before reading. */
export const MAX_CACHE_BYTES = 512 * 1024 * 1024;
const MAX_CACHE_STEPS = 10_000;

function encodeStep(s: Step): unknown {
  const images: Record<string, unknown> = {};
  for (const [cam, im] of Object.entries(s.images))
    images[cam] = { format: im.format, width: im.width, height: im.height, bytes: Buffer.from(im.bytes).toString('base64') };
  return {
    images,
    state: Array.from(s.state),
    action: Array.from(s.action),
    isFirst: s.isFirst,
    isLast: s.isLast,
    isTerminal: s.isTerminal,
    reward: s.reward,
    discount: s.discount,
  };
}

export function encodeEpisodeCache(ep: Episode): string {
  return JSON.stringify({
    version: CACHE_VERSION,
    instruction: ep.instruction,
    metadata: ep.metadata,
    groundTruth: ep.groundTruth ?? null,
    steps: ep.steps.map(encodeStep),
  });
}

export function writeEpisodeCache(path: string, ep: Episode): void {
  writeFileAtomic(path, encodeEpisodeCache(ep));
}

class Checker {
  constructor(readonly file: string) {}
  fail(field: string, message: string): never {
    throw new FormatError('E_SIM_CACHE', `${this.file}: ${field}: ${message}`, {
      file: this.file,
      field,
      fix: 'the checkpoint is damaged: delete it (and its line in attempts.jsonl) or the whole .sim-collect folder, then rerun sim collect',
    });
  }
  obj(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'expected an object');
    return v as Record<string, unknown>;
  }
  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, 'expected a string');
    return v;
  }
  num(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'expected a finite number');
    return v;
  }
  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, 'expected true or false');
    return v;
  }
  f32(v: unknown, field: string, length: number): Float32Array {
    if (!Array.isArray(v) || v.length !== length) this.fail(field, `expected a list of ${length} numbers`);
    const out = new Float32Array(length);
    v.forEach((x, i) => (out[i] = this.num(x, `${field}[${i}]`)));
    return out;
  }
}

function decodeImage(c: Checker, v: unknown, field: string): EncodedImage {
  const o = c.obj(v, field);
  const format = o.format;
  if (format !== 'jpeg' && format !== 'png') c.fail(`${field}.format`, 'expected "jpeg" or "png"');
  const width = c.num(o.width, `${field}.width`);
  const height = c.num(o.height, `${field}.height`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 8192 || height > 8192)
    c.fail(`${field}.width`, 'expected integer sizes in [1, 8192]');
  const b64 = c.str(o.bytes, `${field}.bytes`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) c.fail(`${field}.bytes`, 'is not base64');
  return { format, width, height, bytes: new Uint8Array(Buffer.from(b64, 'base64')) };
}

export function decodeEpisodeCache(text: string, file: string): Episode {
  const c: Checker = new Checker(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    c.fail('(file)', 'is not JSON (a torn write?)');
  }
  const o = c.obj(raw, '(file)');
  if (o.version !== CACHE_VERSION) c.fail('version', `is ${JSON.stringify(o.version)}, this build reads ${CACHE_VERSION}`);
  const instruction = c.str(o.instruction, 'instruction');
  const meta = c.obj(o.metadata, 'metadata');
  c.str(meta.source, 'metadata.source');
  c.str(meta.episodeId, 'metadata.episodeId');
  const sem = c.obj(meta.semantics, 'metadata.semantics');
  const aDims = sem.actionDims;
  const sDims = sem.stateDims;
  if (!Array.isArray(aDims) || !Array.isArray(sDims)) c.fail('metadata.semantics', 'expected actionDims and stateDims lists');
  const actionDims = aDims.length;
  const stateDims = sDims.length;
  const rawSteps = o.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length === 0 || rawSteps.length > MAX_CACHE_STEPS)
    c.fail('steps', `expected 1 to ${MAX_CACHE_STEPS} steps`);
  const steps: Step[] = rawSteps.map((sv: unknown, t: number) => {
    const s = c.obj(sv, `steps[${t}]`);
    const imgs = c.obj(s.images, `steps[${t}].images`);
    const images: Record<string, EncodedImage> = {};
    for (const [cam, im] of Object.entries(imgs)) images[cam] = decodeImage(c, im, `steps[${t}].images.${cam}`);
    return {
      images,
      state: c.f32(s.state, `steps[${t}].state`, stateDims),
      action: c.f32(s.action, `steps[${t}].action`, actionDims),
      isFirst: c.bool(s.isFirst, `steps[${t}].isFirst`),
      isLast: c.bool(s.isLast, `steps[${t}].isLast`),
      isTerminal: c.bool(s.isTerminal, `steps[${t}].isTerminal`),
      reward: c.num(s.reward, `steps[${t}].reward`),
      discount: c.num(s.discount, `steps[${t}].discount`),
    };
  });
  const ep: Episode = { instruction, steps, metadata: meta as unknown as Episode['metadata'] };
  if (o.groundTruth !== null && o.groundTruth !== undefined) {
    const gt = c.obj(o.groundTruth, 'groundTruth');
    if (!Array.isArray(gt.objectPoses) || gt.objectPoses.length !== steps.length)
      c.fail('groundTruth.objectPoses', `expected one pose list per step (${steps.length})`);
    const spans = gt.subtasks;
    if (!Array.isArray(spans)) c.fail('groundTruth.subtasks', 'expected a list');
    spans.forEach((sp: unknown, i: number) => {
      const s = c.obj(sp, `groundTruth.subtasks[${i}]`);
      c.str(s.text, `groundTruth.subtasks[${i}].text`);
      const a = c.num(s.start, `groundTruth.subtasks[${i}].start`);
      const b = c.num(s.end, `groundTruth.subtasks[${i}].end`);
      if (!(a >= 0 && a < b && b <= steps.length))
        c.fail(`groundTruth.subtasks[${i}]`, `span [${a}, ${b}) is not inside the episode's ${steps.length} steps`);
    });
    c.obj(gt.task, 'groundTruth.task');
    c.bool(gt.success, 'groundTruth.success');
    ep.groundTruth = gt as unknown as Episode['groundTruth'];
  }
  return ep;
}

export function readEpisodeCache(path: string): Episode {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw new FormatError('E_SIM_CACHE', `${path} is missing`, {
      file: path,
      fix: 'delete the .sim-collect folder and rerun sim collect',
      cause,
    });
  }
  if (size > MAX_CACHE_BYTES)
    throw new FormatError('E_SIM_CACHE', `${path} is ${size} bytes, more than ${MAX_CACHE_BYTES}`, {
      file: path,
      fix: 'delete the .sim-collect folder and rerun sim collect',
    });
  return decodeEpisodeCache(readFileSync(path, 'utf8'), path);
}
