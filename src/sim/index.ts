// The tabletop world: catalogue, world rules, renderer, tasks, scripted expert, and collection.
export { CATALOGUE, LANGUAGES, getObject, trainObjects } from './catalogue.ts';
export type { CatalogueObject, Category, Shape, Language } from './catalogue.ts';
export { World, SimActionError, WORKSPACE, MAX_STEP_M, MAX_STEP_RAD } from './world.ts';
export type { SimObject, Gripper } from './world.ts';
export { render, renderEncoded, projectPoint, DEFAULT_CAMERA } from './renderer.ts';
export type { CameraSpec } from './renderer.ts';
export { TASK_FAMILIES, SUITES, sampleTask, isSuccess, prepositionFor } from './tasks.ts';
export type { Task, TaskFamily, Suite } from './tasks.ts';
export { foreignInstructions, FOREIGN_LANGUAGES } from './language.ts';
export type { Foreign } from './language.ts';
export { Rollout, GRIPPER_START } from './rollout.ts';
export { runExpert, subtaskTexts } from './expert.ts';
export type { ExpertOptions } from './expert.ts';
export { collectEpisodes, CACHE_DIR, DONE_FILE } from './collect.ts';
export type { CollectOptions, CollectResult } from './collect.ts';
export { encodeEpisodeCache, decodeEpisodeCache, readEpisodeCache, writeEpisodeCache } from './episode-cache.ts';
