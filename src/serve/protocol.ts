// The policy protocol's messages over openpi's wire format (wire.ts): the observation a client sends
// (validated into an Observation), the result it gets back, and the metadata sent on connect.
// Observation: observation/image (uint8 H×W×3), observation/wrist_image (optional, same),
// observation/state (float, one value per state dimension, finite), prompt (str); `reset: true`
// starts a new episode, and a message holding only `reset` (and maybe `prompt`) is a reset alone.
// Result: actions (float32 [n, 7]), text (map of str), done (bool), policy_timing, server_timing (map of
// float64 infer_ms, queue_ms, prev_total_ms). Imports nothing from the engine.
import type { Observation, PolicyMetadata, PolicyResult, PolicyText } from '../policy/types.ts';
import type { RgbImage } from '../data/image.ts';
import { ProtocolError } from './errors.ts';
import { NdArray, NpScalar, WireFloat, dtypeString, halfToFloat, toWire } from './wire.ts';
import type { WireMap, WireValue } from './wire.ts';

/** Largest camera frame accepted (2048 × 2048 pixels). */
export const MAX_IMAGE_PIXELS = 2048 * 2048;
/** Longest prompt accepted, in UTF-16 code units. */
export const MAX_PROMPT_CHARS = 4096;

export interface ObservationLimits {
  /** Values the state carries (7 for Bridge: x, y, z, roll, pitch, yaw, gripper). */
  stateDims: number;
  maxImagePixels: number;
}

export const DEFAULT_OBSERVATION_LIMITS: ObservationLimits = { stateDims: 7, maxImagePixels: MAX_IMAGE_PIXELS };

/** One request a client sends: an observation to act on, or a reset alone. */
export type PolicyRequest = { kind: 'infer'; observation: Observation; reset: boolean } | { kind: 'reset'; prompt: string | undefined };

function parseImage(v: WireValue | undefined, field: string, limits: ObservationLimits): RgbImage {
  const fix = 'send the camera frame as a uint8 NumPy array of shape (H, W, 3)';
  if (!(v instanceof NdArray)) throw new ProtocolError(`${field} is ${v === undefined ? 'missing' : 'not a NumPy array'}`, field, fix);
  if (v.dtype !== 'u1')
    throw new ProtocolError(
      `${field} has dtype ${dtypeString(v.dtype)}, not uint8`,
      field,
      `${fix} (convert with image_tools.convert_to_uint8)`,
    );
  const [h, w, c] = v.shape;
  if (v.shape.length !== 3 || c !== 3)
    throw new ProtocolError(`${field} has shape [${v.shape.join(', ')}], not (H, W, 3)`, field, `${fix} (channels last)`);
  if (h! < 1 || w! < 1 || h! * w! > limits.maxImagePixels)
    throw new ProtocolError(
      `${field} is ${w}×${h}, outside 1 … ${limits.maxImagePixels} pixels`,
      field,
      'resize the frame (Bridge frames are 256×256)',
    );
  return { width: w!, height: h!, rgb: v.data as Uint8Array };
}

function parseState(v: WireValue | undefined, limits: ObservationLimits): Float32Array {
  const field = 'observation/state';
  const fix = `send the state as a float NumPy array of shape (${limits.stateDims},): x, y, z (m), roll, pitch, yaw (rad), gripper (1 = open)`;
  if (!(v instanceof NdArray)) throw new ProtocolError(`${field} is ${v === undefined ? 'missing' : 'not a NumPy array'}`, field, fix);
  if (!v.dtype.startsWith('f')) throw new ProtocolError(`${field} has dtype ${dtypeString(v.dtype)}, not a float`, field, fix);
  if (v.shape.length !== 1 || v.shape[0] !== limits.stateDims)
    throw new ProtocolError(`${field} has shape [${v.shape.join(', ')}], not [${limits.stateDims}]`, field, fix);
  const state = new Float32Array(limits.stateDims);
  for (let i = 0; i < state.length; i++) {
    state[i] = v.dtype === 'f2' ? halfToFloat(v.data[i] as number) : (v.data[i] as number);
    if (!Number.isFinite(state[i]!))
      throw new ProtocolError(
        `${field}[${i}] is ${v.data[i]}${Number.isFinite(v.data[i] as number) ? ' (beyond float32)' : ''}`,
        `${field}[${i}]`,
        'every state value must be finite',
      );
  }
  return state;
}

function parsePrompt(v: WireValue | undefined, required: boolean): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string')
    throw new ProtocolError(
      `prompt is ${v === undefined ? 'missing' : 'not a str'}`,
      'prompt',
      'send the task instruction as a str under "prompt"',
    );
  if (v.trim() === '' || v.length > MAX_PROMPT_CHARS)
    throw new ProtocolError(
      `prompt has ${v.length} characters; 1 … ${MAX_PROMPT_CHARS} are accepted`,
      'prompt',
      'send the task instruction, e.g. "put the carrot in the pot"',
    );
  return v;
}

/** Validates a decoded message into a request. Unknown keys are ignored (openpi clients send extra
 *  observations); every key the protocol names is checked for type, shape and range. */
export function parseRequest(message: WireValue, limits: ObservationLimits = DEFAULT_OBSERVATION_LIMITS): PolicyRequest {
  if (!(message instanceof Map))
    throw new ProtocolError(
      'the message is not a map',
      'message',
      'send a dict such as {"observation/image": …, "observation/state": …, "prompt": …}',
    );
  const rawReset = message.get('reset');
  // A NumPy bool (`t == 0` with a NumPy step counter gives np.True_) counts as a Python one.
  const reset = rawReset instanceof NpScalar && rawReset.dtype === 'b1' ? rawReset.value : rawReset;
  if (reset !== undefined && typeof reset !== 'boolean')
    throw new ProtocolError('reset is not a bool', 'reset', 'send reset as True or leave it out');
  const hasObservation = ['observation/image', 'observation/state', 'observation/wrist_image'].some((k) => message.has(k));
  if (reset === true && !hasObservation) return { kind: 'reset', prompt: parsePrompt(message.get('prompt'), false) };
  const image = parseImage(message.get('observation/image'), 'observation/image', limits);
  const wrist = message.get('observation/wrist_image');
  const state = parseState(message.get('observation/state'), limits);
  const instruction = parsePrompt(message.get('prompt'), true)!;
  const observation: Observation = { image, state, instruction };
  if (wrist !== undefined) observation.wristImage = parseImage(wrist, 'observation/wrist_image', limits);
  return { kind: 'infer', observation, reset: reset === true };
}

/** The message a client sends for one observation (as openpi clients lay it out). */
export function observationMessage(observation: Observation, reset = false): WireMap {
  const image = (img: RgbImage) => new NdArray('u1', [img.height, img.width, 3], img.rgb);
  const msg: WireMap = new Map<string, WireValue>([['observation/image', image(observation.image)]]);
  if (observation.wristImage) msg.set('observation/wrist_image', image(observation.wristImage));
  msg.set('observation/state', new NdArray('f4', [observation.state.length], observation.state));
  msg.set('prompt', observation.instruction);
  if (reset) msg.set('reset', true);
  return msg;
}

export interface ServerTiming {
  /** Wall time of the policy call (ms). */
  inferMs: number;
  /** Time the request waited for the policy behind other requests (ms). */
  queueMs?: number;
  /** Wall time of the previous request on this connection, receive to send (ms). */
  prevTotalMs?: number;
}

function textMap(text: PolicyText): WireMap {
  const m: WireMap = new Map();
  if (text.subtasks) m.set('subtasks', [...text.subtasks]);
  for (const k of ['subtask', 'plan', 'chunk', 'verify'] as const) if (text[k] !== undefined) m.set(k, text[k]!);
  return m;
}

/** The result message: actions as float32 [n, 7], the text generated, timing. */
export function resultMessage(result: PolicyResult, timing: ServerTiming): WireMap {
  const n = result.actions.length;
  const actions = new Float32Array(n * 7);
  result.actions.forEach((step, i) => {
    if (step.length !== 7)
      throw new ProtocolError(
        `the policy returned a step of ${step.length} values`,
        `actions[${i}]`,
        'a policy returns 7-D steps (dx, dy, dz, droll, dpitch, dyaw, gripper)',
      );
    actions.set(step, i * 7);
  });
  const msg: WireMap = new Map<string, WireValue>([['actions', new NdArray('f4', [n, 7], actions)]]);
  if (result.text) msg.set('text', textMap(result.text));
  msg.set('done', result.done === true);
  if (result.malformed !== undefined) msg.set('malformed', result.malformed);
  msg.set('policy_timing', new Map(Object.entries(result.timing.stages).map(([k, v]) => [k, new WireFloat(v)])));
  const st: WireMap = new Map([['infer_ms', new WireFloat(timing.inferMs)]]);
  if (timing.queueMs !== undefined) st.set('queue_ms', new WireFloat(timing.queueMs));
  if (timing.prevTotalMs !== undefined) st.set('prev_total_ms', new WireFloat(timing.prevTotalMs));
  msg.set('server_timing', st);
  return msg;
}

/** What a client reads from a result message. */
export interface RemoteResult {
  result: PolicyResult;
  serverTiming: ServerTiming;
}

const numberOf = (v: WireValue | undefined): number | undefined =>
  v instanceof WireFloat ? v.value : typeof v === 'number' ? v : undefined;

/** Reads a result message (actions float32 or float64 [n, 7]). */
export function parseResult(message: WireValue): RemoteResult {
  const fix = 'the server does not speak this protocol version; check its /healthz and docs/serve.md';
  if (!(message instanceof Map)) throw new ProtocolError('the result is not a map', 'result', fix);
  const a = message.get('actions');
  if (!(a instanceof NdArray) || (a.dtype !== 'f4' && a.dtype !== 'f8') || a.shape.length !== 2 || a.shape[1] !== 7) {
    throw new ProtocolError('result actions are not a float array of shape [n, 7]', 'actions', fix);
  }
  const actions: Float32Array[] = [];
  for (let i = 0; i < a.shape[0]!; i++) actions.push(Float32Array.from(a.data.subarray(i * 7, i * 7 + 7) as Float32Array));
  const result: PolicyResult = { actions, timing: { totalMs: 0, stages: {} } };
  const text = message.get('text');
  if (text instanceof Map) {
    const t: PolicyText = {};
    const subtasks = text.get('subtasks');
    if (Array.isArray(subtasks)) t.subtasks = subtasks.filter((s): s is string => typeof s === 'string');
    for (const k of ['subtask', 'plan', 'chunk', 'verify'] as const) {
      const v = text.get(k);
      if (typeof v === 'string') t[k] = v;
    }
    result.text = t;
  }
  if (message.get('done') === true) result.done = true;
  const malformed = message.get('malformed');
  if (typeof malformed === 'number') result.malformed = malformed;
  const stages = message.get('policy_timing');
  if (stages instanceof Map) for (const [k, v] of stages) if (numberOf(v) !== undefined) result.timing.stages[k] = numberOf(v)!;
  const st = message.get('server_timing');
  const serverTiming: ServerTiming = { inferMs: 0 };
  if (st instanceof Map) {
    serverTiming.inferMs = numberOf(st.get('infer_ms')) ?? 0;
    const q = numberOf(st.get('queue_ms'));
    if (q !== undefined) serverTiming.queueMs = q;
    const p = numberOf(st.get('prev_total_ms'));
    if (p !== undefined) serverTiming.prevTotalMs = p;
  }
  result.timing.totalMs = serverTiming.inferMs;
  return { result, serverTiming };
}

/** The metadata frame sent on connect. */
export function metadataMessage(metadata: PolicyMetadata): WireValue {
  return toWire(metadata);
}
