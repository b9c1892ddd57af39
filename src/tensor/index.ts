// The tensor engine: Tensor, arena, autograd tape, ops (kernels + gradient rules), optimizer.
import './ops/basic.ts';
import './ops/linear.ts';
import './ops/norm.ts';
import './ops/activation.ts';
import './ops/attention.ts';
import './ops/loss.ts';
import './ops/rows.ts';
import './ops/lora.ts';

export { Tensor, Bf16Tensor, assertShape } from './tensor.ts';
export type { Weight } from './tensor.ts';
export { Arena, arena } from './arena.ts';
export {
  registerOp,
  run,
  noGrad,
  backward,
  clearTape,
  activation,
  listOps,
  tapeLength,
  tapeActivationFloats,
  lastBackwardGradFloats,
} from './tape.ts';
export type { OpDef } from './tape.ts';
export { add, scale, reshape, mse, sum } from './ops/basic.ts';
export { linear, matmul } from './ops/linear.ts';
export { loraLinear } from './ops/lora.ts';
export { layerNorm, rmsNorm } from './ops/norm.ts';
export { gelu, silu, gated, softcap, dropout } from './ops/activation.ts';
export { attention, rope, ropeInvFreq } from './ops/attention.ts';
export { embedding, crossEntropy } from './ops/loss.ts';
export { addRows, poolPatches, scatterRows, gatherRows, embeddingBf16 } from './ops/rows.ts';
export { AdamW, clipGradNorm, ADAMW_DEFAULTS } from './optim.ts';
export type { AdamWConfig } from './optim.ts';
export { getBackend, setBackend, initBackend, loadNative, tsBackend } from './backends/index.ts';
export type { Backend, AttentionMask, AttentionShape, GemmArgs } from './backend.ts';
