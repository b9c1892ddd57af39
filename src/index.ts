// The public library API of vlm2vla. Each module re-exports its public surface from its index.ts.
export * from './errors/index.ts';
export * from './util/index.ts';
export { packageVersion } from './version.ts';
export * from './models/index.ts';
export * from './decode/index.ts';
export * from './tokenizer/index.ts';
export * from './corpus/index.ts';
export * from './train/index.ts';
export * from './pretrain/index.ts';
export * from './eval/index.ts';
export * from './policy/index.ts';
export * from './serve/index.ts';
export { initBackend, getBackend } from './tensor/index.ts';
