// Model file formats: safetensors (single and sharded checkpoints) and storage dtypes.
export { SafetensorsFile, encodeSafetensors, writeSafetensors, MAX_HEADER_BYTES } from './safetensors.ts';
export type { TensorInfo, TensorToWrite } from './safetensors.ts';
export { Checkpoint, writeCheckpoint, INDEX_FILE } from './sharded.ts';
export { DTYPE_BYTES, isDtype, viewAs } from './dtype.ts';
export { refusePickle } from './pickle.ts';
export type { Dtype, AnyTypedArray } from './dtype.ts';
export {
  encodeGguf,
  writeGguf,
  parseGguf,
  readGguf,
  ggufTensorValues,
  encodeTensorData,
  decodeTensorData,
  tensorBytes,
  GGML_TYPES,
  GGUF_MAGIC,
} from './gguf.ts';
export type { GgufValue, GgufTensor, GgufFile, GgmlType } from './gguf.ts';
