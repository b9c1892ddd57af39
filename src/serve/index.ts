// Serving: the policy server (openpi WebSocket + msgpack, HTTP JSON, OpenAI-compatible chat), its wire
// format, and RemotePolicy (also importable alone as `vlm2vla/client`, without the engine).
export { startServer, closeOnSignal } from './server.ts';
export type { ServeOptions, PolicyServer, ServerStats, RouteContext, RouteHandler } from './server.ts';
export { RemotePolicy } from './client.ts';
export type { RemotePolicyOptions } from './client.ts';
export { ProtocolError, ServeError, RemoteError } from './errors.ts';
export type { ServeErrorCode } from './errors.ts';
export { parseRequest, observationMessage, resultMessage, parseResult, metadataMessage, MAX_IMAGE_PIXELS } from './protocol.ts';
export type { PolicyRequest, ServerTiming, ObservationLimits } from './protocol.ts';
export { NdArray, NpScalar, WireFloat, packMessage, unpackMessage, halfToFloat, MAX_MESSAGE_BYTES } from './wire.ts';
export type { Dtype, WireValue, WireMap } from './wire.ts';
