// Bridge V2's RLDS schema as tf.train.Example features (one Example = one episode, step fields
// flattened over T steps), mapped to and from the shared Episode type with strict validation.
//   steps/observation/image_{0..3}  bytes  × T   JPEG frames
//   steps/observation/state         float  × 7T  [x, y, z, roll, pitch, yaw, gripper]
//   steps/action                    float  × 7T  [dx, dy, dz, droll, dpitch, dyaw, gripper]
//   steps/language_instruction      bytes  × T   UTF-8
//   steps/language_embedding        float  × 512T (written as zeros; not read)
//   steps/is_first|is_last|is_terminal  int64 × T (0/1)
//   steps/reward|discount           float  × T
//   episode_metadata/file_path bytes × 1, episode_id int64 × 1, has_image_{0..3}, has_language int64 × 1
import { FormatError } from '../../errors/index.ts';
import type { ActionSemantics, EncodedImage, Episode, Step } from '../episode.ts';
import { probeImage } from '../image.ts';
import type { Features, FeatureValue } from './example.ts';

export const BRIDGE_CAMERAS = ['image_0', 'image_1', 'image_2', 'image_3'] as const;
export const EMBEDDING_DIM = 512;
/** Longest episode accepted. */
export const MAX_STEPS = 100_000;

export interface RecordContext {
  file: string;
  index: number;
  semantics: ActionSemantics;
  source: string;
  /** Trust has_image_k flags (datasets written by vlm2vla); Bridge's own flags are unreliable. */
  trustImageFlags: boolean;
}

function err(
  ctx: RecordContext,
  field: string,
  message: string,
  fix = 'the record is corrupt or not in the Bridge RLDS schema',
): FormatError {
  return new FormatError('E_RLDS_RECORD', `${ctx.file}: record ${ctx.index}: ${field}: ${message}`, { file: ctx.file, field, fix });
}

function get<K extends FeatureValue['kind']>(
  f: Features,
  ctx: RecordContext,
  name: string,
  kind: K,
  required = true,
): Extract<FeatureValue, { kind: K }> | null {
  const v = f.get(name);
  if (!v) {
    if (required) throw err(ctx, name, 'required feature is missing');
    return null;
  }
  if (v.kind !== kind) throw err(ctx, name, `is a ${v.kind} list, expected ${kind}`);
  return v as Extract<FeatureValue, { kind: K }>;
}

function expectLength(ctx: RecordContext, name: string, actual: number, expected: number): void {
  if (actual !== expected) throw err(ctx, name, `has ${actual} values, expected ${expected} for the episode's steps`);
}

const decoder = new TextDecoder('utf-8', { fatal: true });
function text(ctx: RecordContext, name: string, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw err(ctx, name, 'is not valid UTF-8');
  }
}

export function exampleToEpisode(f: Features, ctx: RecordContext): Episode {
  const action = get(f, ctx, 'steps/action', 'float')!.value;
  const dims = ctx.semantics.actionDims.length;
  if (action.length === 0 || action.length % dims !== 0)
    throw err(ctx, 'steps/action', `has ${action.length} values, not a positive multiple of ${dims}`);
  const T = action.length / dims;
  if (T > MAX_STEPS) throw err(ctx, 'steps/action', `${T} steps is more than ${MAX_STEPS}`);
  const state = get(f, ctx, 'steps/observation/state', 'float')!.value;
  expectLength(ctx, 'steps/observation/state', state.length, T * ctx.semantics.stateDims.length);
  for (const [name, arr] of [
    ['steps/action', action],
    ['steps/observation/state', state],
  ] as const) {
    for (let i = 0; i < arr.length; i++)
      if (!Number.isFinite(arr[i]!))
        throw err(ctx, name, `value ${i} is ${arr[i]}`, 'non-finite numbers cannot be trained on; drop this episode');
  }
  const instr = get(f, ctx, 'steps/language_instruction', 'bytes')!.value;
  expectLength(ctx, 'steps/language_instruction', instr.length, T);
  const flags = ['steps/is_first', 'steps/is_last', 'steps/is_terminal'].map((n) => {
    const v = get(f, ctx, n, 'int64')!.value;
    expectLength(ctx, n, v.length, T);
    return v;
  });
  const scalars = ['steps/reward', 'steps/discount'].map((n) => {
    const v = get(f, ctx, n, 'float')!.value;
    expectLength(ctx, n, v.length, T);
    return v;
  });
  const cameras: [string, EncodedImage[]][] = [];
  for (const cam of BRIDGE_CAMERAS) {
    const frames = get(f, ctx, `steps/observation/${cam}`, 'bytes', false);
    if (!frames) continue;
    const flag = get(f, ctx, `episode_metadata/has_${cam}`, 'int64', false)?.value[0];
    if (ctx.trustImageFlags && flag === 0) continue;
    expectLength(ctx, `steps/observation/${cam}`, frames.value.length, T);
    cameras.push([cam, frames.value.map((b, t) => probeImage(b, `${ctx.file}: record ${ctx.index}: steps/observation/${cam}[${t}]`))]);
  }
  if (cameras.length === 0) throw err(ctx, 'steps/observation/image_0', 'no camera frames in the episode');
  const steps: Step[] = [];
  for (let t = 0; t < T; t++) {
    const images: Record<string, EncodedImage> = {};
    for (const [cam, frames] of cameras) images[cam] = frames[t]!;
    steps.push({
      images,
      state: state.slice(t * 7, t * 7 + 7),
      action: action.slice(t * dims, t * dims + dims),
      isFirst: flags[0]![t] === 1,
      isLast: flags[1]![t] === 1,
      isTerminal: flags[2]![t] === 1,
      reward: scalars[0]![t]!,
      discount: scalars[1]![t]!,
    });
  }
  const filePath = get(f, ctx, 'episode_metadata/file_path', 'bytes', false)?.value[0];
  const episodeId = get(f, ctx, 'episode_metadata/episode_id', 'int64', false)?.value[0];
  const path = filePath ? text(ctx, 'episode_metadata/file_path', filePath) : undefined;
  return {
    instruction: text(ctx, 'steps/language_instruction', instr[0]!),
    steps,
    metadata: {
      source: ctx.source,
      episodeId: `${path ?? ctx.file}#${episodeId ?? ctx.index}`,
      ...(path !== undefined ? { filePath: path } : {}),
      semantics: ctx.semantics,
      extra: { record: ctx.index, shard: ctx.file, episode_id: episodeId ?? null },
    },
  };
}

/** The Example of an episode, with every Bridge feature present. Cameras missing from the episode
 *  are written as copies of the first camera's frames with has_image_k = 0, as TFDS writes dummies. */
export function episodeToExample(ep: Episode, numericId: number): Features {
  const T = ep.steps.length;
  const f: Features = new Map();
  const flat = (pick: (s: Step) => ArrayLike<number>, width: number) => {
    const out = new Float32Array(T * width);
    ep.steps.forEach((s, t) => out.set(pick(s), t * width));
    return out;
  };
  const present = Object.keys(ep.steps[0]?.images ?? {});
  const fallback = present[0];
  for (const cam of BRIDGE_CAMERAS) {
    const src = present.includes(cam) ? cam : fallback;
    f.set(`steps/observation/${cam}`, { kind: 'bytes', value: ep.steps.map((s) => (src ? s.images[src]!.bytes : new Uint8Array())) });
    f.set(`episode_metadata/has_${cam}`, { kind: 'int64', value: [present.includes(cam) ? 1 : 0] });
  }
  f.set('steps/observation/state', { kind: 'float', value: flat((s) => s.state, 7) });
  f.set('steps/action', { kind: 'float', value: flat((s) => s.action, ep.metadata.semantics.actionDims.length) });
  const enc = new TextEncoder();
  f.set('steps/language_instruction', { kind: 'bytes', value: ep.steps.map(() => enc.encode(ep.instruction)) });
  f.set('steps/language_embedding', { kind: 'float', value: new Float32Array(T * EMBEDDING_DIM) });
  f.set('steps/is_first', { kind: 'int64', value: ep.steps.map((s) => (s.isFirst ? 1 : 0)) });
  f.set('steps/is_last', { kind: 'int64', value: ep.steps.map((s) => (s.isLast ? 1 : 0)) });
  f.set('steps/is_terminal', { kind: 'int64', value: ep.steps.map((s) => (s.isTerminal ? 1 : 0)) });
  f.set('steps/reward', { kind: 'float', value: Float32Array.from(ep.steps, (s) => s.reward) });
  f.set('steps/discount', { kind: 'float', value: Float32Array.from(ep.steps, (s) => s.discount) });
  f.set('episode_metadata/file_path', { kind: 'bytes', value: [enc.encode(ep.metadata.filePath ?? ep.metadata.episodeId)] });
  f.set('episode_metadata/episode_id', { kind: 'int64', value: [numericId] });
  f.set('episode_metadata/has_language', { kind: 'int64', value: [ep.instruction.length > 0 ? 1 : 0] });
  return f;
}
