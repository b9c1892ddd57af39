// Model file formats: safetensors (single and sharded checkpoints) and storage dtypes.
export { SafetensorsFile, encodeSafetensors, writeSafetensors, MAX_HEADER_BYTES } from './safetensors.ts';
export type { TensorInfo, TensorToWrite } from './safetensors.ts';
export { Checkpoint, writeCheckpoint, INDEX_FILE } from './sharded.ts';
export { DTYPE_BYTES, isDtype, viewAs } from './dtype.ts';
export type { Dtype, AnyTypedArray } from './dtype.ts';
