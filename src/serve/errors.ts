// Errors of the policy server and its client: a malformed message on the wire, a server that is
// busy, timed out or refused the caller, and an error a remote server reported.
import { VlmError } from '../errors/index.ts';

/** A message that does not follow the wire protocol (docs/serve.md); `field` names the key. */
export class ProtocolError extends VlmError {
  constructor(message: string, field: string, fix: string) {
    super('E_PROTOCOL', message, { field, fix });
  }
}

/** Codes the server answers with besides E_PROTOCOL; each is stable and documented in docs/serve.md. */
export type ServeErrorCode =
  | 'E_BUSY'
  | 'E_SESSION_LIMIT'
  | 'E_TIMEOUT'
  | 'E_SHUTTING_DOWN'
  | 'E_UNAUTHORIZED'
  | 'E_FORBIDDEN'
  | 'E_TOO_LARGE'
  | 'E_POLICY'
  | 'E_NOT_FOUND'
  | 'E_LISTEN';

/** A request the server could not serve for a reason other than its content. */
export class ServeError extends VlmError {
  constructor(code: ServeErrorCode, message: string, fix: string) {
    super(code, message, { fix });
  }
}

/** What a remote server said went wrong (its error frame), or why the connection to it failed. */
export class RemoteError extends VlmError {
  constructor(message: string, fix: string, cause?: unknown) {
    super('E_REMOTE', message, cause === undefined ? { fix } : { fix, cause });
  }
}
