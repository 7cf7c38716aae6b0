// The classification engine: find every classified value of a body (function contracts
// wherever a format adapter finds a call, detectors over free text and untagged fields),
// decide, and apply the decision by splicing replacements into the original bytes; or the
// same over a text/event-stream answer, event by event. Pure: bytes and plain objects in,
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
