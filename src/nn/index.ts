// Neural-network layers on the tensor engine.
export { Linear, LoraLinear, Embedding, RMSNorm, LayerNorm } from './layers.ts';
export type { Module } from './layers.ts';
export { TransformerBlock } from './transformer.ts';
export type { BlockConfig } from './transformer.ts';
