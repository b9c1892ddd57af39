// Annotation: episodes → subtasks, motion plans and action chunks (rules or a VLM), journaled.
export { ANNOTATION_SCHEMA, annotationKey, validateAnnotation } from './schema.ts';
export type { AnnotationRecord, AnnotatedElement, AnnotatorIdentity, Segment } from './schema.ts';
export { parseInstruction, normalizeInstruction, withArticle } from './instruction.ts';
export type { ParsedInstruction, PlannedSubtask, SubtaskKind } from './instruction.ts';
export { segmentTrajectory, DEFAULT_SEGMENTS } from './segment.ts';
export { rulesAnnotator, buildSegments, RULES_IDENTITY } from './rules.ts';
export type { Annotator } from './rules.ts';
export { runAnnotationJob, readAnnotations, ANNOTATIONS_FILE } from './job.ts';
export type { JobOptions, JobSummary } from './job.ts';
export { openAiAnnotator, parseReply, REPLY_SCHEMA, PROMPT_VERSION } from './openai/annotator.ts';
export type { OpenAiAnnotatorOptions, Reply } from './openai/annotator.ts';
export { ChatClient, ApiError, CLIENT_DEFAULTS, retryAfterMs } from './openai/client.ts';
export type { ClientOptions, Usage } from './openai/client.ts';
export { auditAnnotations } from './audit.ts';
export type { AuditReport } from './audit.ts';
