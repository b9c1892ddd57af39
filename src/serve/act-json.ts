// The JSON form of one policy request (`POST /v1/act`): images as base64 PNG or JPEG (data URIs
// accepted), the state as a list of numbers, the prompt; and the JSON form of the result.
import { decodeImage, probeImage } from '../data/image.ts';
import type { RgbImage } from '../data/image.ts';
import type { Observation, PolicyResult } from '../policy/types.ts';
import { ProtocolError } from './errors.ts';
import { MAX_PROMPT_CHARS } from './protocol.ts';
import type { ObservationLimits, ServerTiming } from './protocol.ts';

export interface ActRequest {
  observation: Observation;
  reset: boolean;
  /** Names the HTTP client's episode (default "default"). */
  session: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URI = /^data:image\/(png|jpeg|jpg);base64,/;

/** Decodes a base64 PNG/JPEG (or an image data URI), checking its size from the header first. */
export function imageFromBase64(value: unknown, field: string, maxPixels: number): RgbImage {
  const fix = 'send the frame as a base64 PNG or JPEG string (a data:image/png;base64,… URI works too)';
  if (typeof value !== 'string') throw new ProtocolError(`${field} is ${value === undefined ? 'missing' : 'not a string'}`, field, fix);
  if (value.startsWith('data:') && !DATA_URI.test(value))
    throw new ProtocolError(
      `${field} is a data URI of ${JSON.stringify(value.slice(5, value.indexOf(',') >= 0 ? Math.min(value.indexOf(','), 40) : 40))}, not a base64 PNG or JPEG`,
      field,
      fix,
    );
  const body = value.replace(DATA_URI, '');
  if (body.length % 4 !== 0 || !BASE64.test(body)) throw new ProtocolError(`${field} is not base64`, field, fix);
  const bytes = new Uint8Array(Buffer.from(body, 'base64'));
  let probed;
  try {
    probed = probeImage(bytes, field);
  } catch (e) {
    throw new ProtocolError(`${field}: ${(e as Error).message}`, field, fix);
  }
  if (probed.width < 1 || probed.height < 1 || probed.width * probed.height > maxPixels) {
    throw new ProtocolError(
      `${field} is ${probed.width}×${probed.height}, outside 1 … ${maxPixels} pixels`,
      field,
      'resize the frame (Bridge frames are 256×256)',
    );
  }
  try {
    return decodeImage(probed, field);
  } catch (e) {
    throw new ProtocolError(`${field}: ${(e as Error).message}`, field, fix);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed JSON body into a request. */
export function parseActJson(body: unknown, limits: ObservationLimits): ActRequest {
  if (!isRecord(body))
    throw new ProtocolError('the body is not a JSON object', 'body', 'send {"image": "<base64 PNG>", "state": [7 numbers], "prompt": "…"}');
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(body, k) ? body[k] : undefined);
  const image = imageFromBase64(own('image'), 'image', limits.maxImagePixels);
  const stateRaw = own('state');
  const stateFix = `send "state" as a list of ${limits.stateDims} finite numbers: x, y, z (m), roll, pitch, yaw (rad), gripper (1 = open)`;
  if (!Array.isArray(stateRaw) || stateRaw.length !== limits.stateDims)
    throw new ProtocolError(`state is not a list of ${limits.stateDims} numbers`, 'state', stateFix);
  const state = new Float32Array(limits.stateDims);
  stateRaw.forEach((v, i) => {
    state[i] = typeof v === 'number' ? v : NaN;
    if (!Number.isFinite(state[i]!)) throw new ProtocolError(`state[${i}] is ${JSON.stringify(v)}`, `state[${i}]`, stateFix);
  });
  const prompt = own('prompt');
  if (typeof prompt !== 'string' || prompt.trim() === '' || prompt.length > MAX_PROMPT_CHARS) {
    throw new ProtocolError(
      `prompt is not a string of 1 … ${MAX_PROMPT_CHARS} characters`,
      'prompt',
      'send the task instruction, e.g. "put the carrot in the pot"',
    );
  }
  const reset = own('reset');
  if (reset !== undefined && typeof reset !== 'boolean')
    throw new ProtocolError('reset is not a boolean', 'reset', 'send true, false or leave it out');
  const session = own('session') ?? 'default';
  if (typeof session !== 'string' || session === '' || session.length > 128)
    throw new ProtocolError('session is not a string of 1 … 128 characters', 'session', 'name the episode stream, e.g. "robot-1"');
  const observation: Observation = { image, state, instruction: prompt };
  const wrist = own('wrist_image');
  if (wrist !== undefined) observation.wristImage = imageFromBase64(wrist, 'wrist_image', limits.maxImagePixels);
  return { observation, reset: reset === true, session };
}

/** The shortest decimal that reads back as the same float32. */
function float32Json(v: number): number {
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** The JSON result: the same fields as the msgpack result, actions as lists of numbers. */
export function actResultJson(result: PolicyResult, timing: ServerTiming): Record<string, unknown> {
  const server: Record<string, number> = { infer_ms: timing.inferMs };
  if (timing.queueMs !== undefined) server.queue_ms = timing.queueMs;
  return {
    actions: result.actions.map((step) => Array.from(step, float32Json)),
    text: result.text ?? {},
    done: result.done === true,
    ...(result.malformed === undefined ? {} : { malformed: result.malformed }),
    policy_timing: result.timing.stages,
    server_timing: server,
  };
}
