// The classification engine: find every classified value of a body (function contracts
// wherever a format adapter finds a call, detectors over free text, untagged fields, number
// literals and object keys), decide, and apply the decision by splicing replacements into
// the original bytes; the same over a text/event-stream answer, event by event; and over the
// head of an exchange (the request target, the headers a route names). Pure: bytes and plain objects in,
// bytes and plain objects out; no gRPC, no Envoy, no I/O. Only this face is public.
// External analyzers are the caller's I/O: planInspection() lists the texts to give them,
// completeInspection() takes their hits (and a stream inspector's plan/push the same).

export { completeInspection, inspect, planInspection } from './inspect.js';
export type { PlannedInspection } from './inspect.js';
export type {
  AnalyzedText,
  AnalyzerHit,
  AnalyzerHits,
  InspectInput,
  Inspection,
  TextSite,
} from './types.js';
export { StreamInspector } from './stream.js';
export type { StreamBatch, StreamInput, StreamLimits, StreamOutput } from './stream.js';
export { decideHead, readHead, redactedHead, redactedTarget } from './head.js';
export type { HeadInput, HeadInspection, HeadRecord, HeadScan } from './head.js';
