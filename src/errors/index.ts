// Typed errors: every failure a user can cause has a stable code, the offending file/field, and the fix.
import type { ErrorCode } from './codes.ts';

export { ERROR_CODES, isErrorCode } from './codes.ts';
export type { ErrorCode } from './codes.ts';

export interface ErrorDetails {
  /** File the problem was found in, when there is one. */
  file?: string;
  /** Field, tensor, record or key inside the file. */
  field?: string;
  /** What the user should do next. */
  fix?: string;
  /** Underlying error, kept for debugging (never printed to users as a stack trace). */
  cause?: unknown;
}

/** Base class of every error vlm2vla raises on purpose. `code` is stable and documented. */
export class VlmError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly field: string | undefined;
  readonly fix: string | undefined;

  /** `code` is one of ERROR_CODES (test/errors.test.ts checks every code in the source). */
  constructor(code: ErrorCode | string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code as ErrorCode;
    this.file = details.file;
    this.field = details.field;
    this.fix = details.fix;
  }

  /** One human-readable paragraph: what, where, and how to fix it. */
  describe(): string {
    const where = [this.file, this.field].filter(Boolean).join(' › ');
    const lines = [`error ${this.code}: ${this.message}`];
    if (where) lines.push(`  at: ${where}`);
    if (this.fix) lines.push(`  fix: ${this.fix}`);
    return lines.join('\n');
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, file: this.file, field: this.field, fix: this.fix };
  }
}

/** Command-line usage errors (unknown flags, missing arguments). */
export class UsageError extends VlmError {
  constructor(message: string, fix?: string) {
    super('E_USAGE', message, fix === undefined ? {} : { fix });
  }
}

/** A file could not be read or has the wrong format. */
export class FormatError extends VlmError {}

/** Shapes or dtypes do not agree at a module boundary. */
export class ShapeError extends VlmError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('E_SHAPE', message, details);
  }
}

/** Configuration values are missing or out of range. */
export class ConfigError extends VlmError {}

/** Declared semantics (units, frames, action layout) disagree. Never guessed around. */
export class SemanticsError extends VlmError {}

export function isVlmError(e: unknown): e is VlmError {
  return e instanceof VlmError;
}
