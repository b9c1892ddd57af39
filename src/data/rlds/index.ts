// RLDS / TFRecord: Bridge V2's on-disk format, read streaming and written crash-safely.
export { openRlds, RldsWriter, WRITER_MODULE } from './dataset.ts';
export type { RldsDataset, RldsInfo, RldsWriterOptions } from './dataset.ts';
export { readTfRecords, TfRecordWriter, MAX_RECORD_BYTES } from './tfrecord.ts';
export type { TfRecord } from './tfrecord.ts';
export { crc32c, maskedCrc32c } from './crc32c.ts';
export { decodeExample, encodeExample } from './example.ts';
export type { Features, FeatureValue } from './example.ts';
export { exampleToEpisode, episodeToExample, BRIDGE_CAMERAS } from './schema.ts';
