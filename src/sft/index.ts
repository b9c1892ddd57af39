// SFT dataset building: annotated episodes → chat examples for every VLM2VLA stage.
export { buildSft, checkBuildOutput, isValidation, toChatRecord, SFT_SCHEMA } from './build.ts';
export type { BuildOptions, BuildInfo, ChatRecord } from './build.ts';
export { episodeExamples, DEFAULT_EXAMPLES } from './examples.ts';
export { openSftDataset, recordTexts } from './dataset.ts';
export type { SftDataset, SftRecord, SftSplit } from './dataset.ts';
export type { SftExample, ExampleOptions, ExampleStage, ImageRef } from './examples.ts';
