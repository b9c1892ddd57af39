// Autograd: ops are registered by name with a forward (returns the output and what backward needs)
// and a gradient rule. Running an op records it on the tape when any input requires a gradient;
// backward() walks the tape in reverse, accumulating into .grad, then releases activations.
import { ShapeError } from '../errors/index.ts';
import { arena } from './arena.ts';
import { getBackend } from './backends/index.ts';
import { Tensor } from './tensor.ts';

export interface OpDef<A> {
  forward(inputs: Tensor[], attrs: A): { output: Tensor; saved?: unknown };
  /** Gradients of the inputs given the output gradient; null where an input needs none. The rule
   *  may return fresh buffers; they are added into the inputs' .grad. */
  backward(inputs: Tensor[], output: Tensor, gradOut: Float32Array, saved: unknown, attrs: A): (Float32Array | null)[];
}

const registry = new Map<string, OpDef<never>>();

export function registerOp<A>(name: string, def: OpDef<A>): void {
  registry.set(name, def as unknown as OpDef<never>);
}

export function listOps(): string[] {
  return [...registry.keys()];
}

interface Entry {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  saved: unknown;
  attrs: unknown;
}

let entries: Entry[] = [];
let recording = true;

/** Runs `fn` without recording (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const was = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = was;
  }
}

export function run<A>(name: string, inputs: Tensor[], attrs: A): Tensor {
  const def = registry.get(name) as OpDef<A> | undefined;
  if (!def) throw new Error(`op ${name} is not registered`);
  const { output, saved } = def.forward(inputs, attrs);
  if (recording && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    entries.push({ op: name, inputs, output, saved, attrs });
  }
  return output;
}

/** Gradient buffers handed out during the current backward(); all go back to the arena at its end
 *  (their sums are in the leaves' .grad by then), so the next step reuses them instead of faulting in
 *  fresh pages. */
let stepGrads: Set<Float32Array> | null = null;
let gradFloats = 0;

/** A zero-filled buffer for a gradient a rule returns: from the arena inside backward(), else fresh. */
export function gradBuffer(n: number): Float32Array {
  if (!stepGrads) return new Float32Array(n);
  const b = arena.take(n, false);
  stepGrads.add(b);
  gradFloats += n;
  return b;
}

/** Floats of the gradient buffers the rules of the last backward() asked for (memory accounting in tests). */
export function lastBackwardGradFloats(): number {
  return gradFloats;
}

/** Floats the tape holds now for backward: recorded outputs and the buffers ops saved (memory accounting). */
export function tapeActivationFloats(): number {
  let n = 0;
  for (const e of entries) {
    n += e.output.size;
    if (e.saved instanceof Float32Array) n += e.saved.length;
    else if (e.saved !== null && typeof e.saved === 'object')
      for (const v of Object.values(e.saved)) if (v instanceof Float32Array) n += v.length;
  }
  return n;
}

/** y += x, through the backend for large arrays. */
function accumulate(y: Float32Array, x: Float32Array): void {
  if (y.length >= 16384) getBackend().axpy(1, x, y, y.length);
  else for (let j = 0; j < y.length; j++) y[j]! += x[j]!;
}

/** A fresh activation tensor from the arena. */
export function activation(shape: readonly number[]): Tensor {
  const t = new Tensor(shape, arena.take(shape.reduce((a, b) => a * b, 1)));
  t.fromArena = true;
  return t;
}

/** Backpropagates from a scalar `loss`; gradients accumulate into every requiresGrad leaf's .grad.
 *  The tape is cleared and activations go back to the arena: tensors computed in this step must
 *  not be used afterwards (copy what you need first). */
export function backward(loss: Tensor): void {
  if (loss.size !== 1) throw new ShapeError(`backward() needs a scalar loss, got shape [${loss.shape.join(', ')}]`);
  if (stepGrads) throw new Error('backward() is already running');
  stepGrads = new Set();
  gradFloats = 0;
  const release = (b: Float32Array): void => {
    if (stepGrads!.delete(b)) arena.give(b);
  };
  try {
    const grads = new Map<Tensor, Float32Array>();
    const owned = new Set<Float32Array>();
    grads.set(loss, Float32Array.of(1));
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      const g = grads.get(e.output);
      if (g) {
        const def = registry.get(e.op)!;
        const inGrads = def.backward(e.inputs, e.output, g, e.saved, e.attrs as never);
        e.inputs.forEach((t, k) => {
          const ig = inGrads[k];
          if (!ig || !t.requiresGrad) return;
          const existing = grads.get(t);
          if (existing) accumulate(existing, ig);
          else {
            // A rule may hand the same buffer to several inputs (add) or pass the output's own
            // gradient through (reshape): each stored gradient must be its own buffer.
            let own = ig;
            if (owned.has(ig)) {
              own = gradBuffer(ig.length);
              own.set(ig);
            }
            owned.add(own);
            grads.set(t, own);
          }
        });
        // Gradients only summed into others, and the output's own gradient, are not read again.
        for (const ig of inGrads) if (ig && ig !== g && !owned.has(ig)) release(ig);
        grads.delete(e.output);
        owned.delete(g);
        release(g);
      }
      // Entry i was the last reader of its output (the entries before it were recorded before the output
      // existed), so the output goes back to the arena now: the rest of backward takes its gradient
      // buffers from there instead of growing the process by another copy of the activations.
      if (e.output.fromArena && !e.inputs.includes(e.output)) {
        arena.give(e.output.data);
        e.output.fromArena = false;
      }
    }
    // Leaves (not produced by a recorded op) receive their gradients.
    const produced = new Set(entries.map((e) => e.output));
    for (const [t, g] of grads) {
      if (produced.has(t) || t === loss) continue;
      accumulate(t.ensureGrad(), g);
    }
  } finally {
    for (const b of stepGrads) arena.give(b);
    stepGrads = null;
    clearTape();
  }
}

/** Drops the tape and returns recorded activations to the arena. */
export function clearTape(): void {
  for (const e of entries) if (e.output.fromArena) arena.give(e.output.data);
  entries = [];
}

export function tapeLength(): number {
  return entries.length;
}
