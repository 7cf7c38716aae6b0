// Structured logging. Log lines carry ids, lengths, paths, codes and durations; never a
// body, a header value, or a token. The redaction list is a second line of defence for a
// field someone adds by mistake.

import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'body',
  '*.body',
  'headers',
  '*.headers',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  'value',
  '*.value',
  'err.message',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'callguard' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous stdout, not pino's buffered default: a write to a pipe whose reader is gone
    // then fails at once (EPIPE, and pino stops writing), whereas flushing a buffer into a
    // broken pipe retries forever (sonic-boom 4), and a SIGTERM never ends the process.
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * What of an unexpected error may be logged: its type and stack frames, not its message
 * (a JSON or validation error message can quote the input).
 */
export function safeError(e: unknown): { type: string; stack?: string } {
  if (!(e instanceof Error)) return { type: typeof e };
  const frames = e.stack?.split('\n').slice(1).join('\n');
  return frames ? { type: e.name, stack: frames } : { type: e.name };
}
