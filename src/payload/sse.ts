// Server-sent events framing (text/event-stream, WHATWG HTML §9.2): split a byte stream into
// whole events, read an event's `data`, and rebuild an event with new data. An event's bytes
// are kept exactly as they came unless its data is edited.

const LF = 0x0a;
const CR = 0x0d;

/** One event as received: its bytes, terminator included. */
export interface SseEvent {
  raw: Uint8Array;
}

/** Accumulates chunks and hands out whole events; what remains is an incomplete event. */
export class SseSplitter {
  private pending: Uint8Array = new Uint8Array(0);

  constructor(private readonly maxEventBytes: number) {}

  /** Bytes of an event still incomplete. */
  get buffered(): number {
    return this.pending.length;
  }

  /**
   * Whole events in `chunk` (after what was pending). Throws RangeError when an event grows
   * past the limit without ending: the stream is then refused, never passed on unread.
   */
  push(chunk: Uint8Array): SseEvent[] {
    const buf = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    const events: SseEvent[] = [];
    let start = 0;
    let lineStart = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c !== LF && c !== CR) continue;
      // A CR at the very end may be the first half of CRLF: wait for the next byte.
      if (c === CR && i + 1 === buf.length) break;
      const end = c === CR && buf[i + 1] === LF ? i + 2 : i + 1;
      if (i === lineStart) {
        // An empty line ends the event.
        if (i > start) events.push({ raw: buf.subarray(start, end) });
        start = end;
      }
      lineStart = end;
      i = end - 1;
    }
    this.pending = buf.subarray(start).slice();
    if (this.pending.length > this.maxEventBytes) {
      throw new RangeError(`an event exceeds ${this.maxEventBytes} bytes`);
    }
    return events;
  }

  /** What is left at end of stream (an event without its blank line), or undefined. */
  flush(): SseEvent | undefined {
    if (this.pending.length === 0) return undefined;
    const raw = this.pending;
    this.pending = new Uint8Array(0);
    return { raw };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export interface ParsedEvent {
  /** The `event:` field, when present. */
  type: string | undefined;
  /** The data lines joined with LF; undefined when the event has no data field. */
  data: string | undefined;
}

function lines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

export function parseEvent(raw: Uint8Array): ParsedEvent {
  let type: string | undefined;
  const data: string[] = [];
  for (const line of lines(Buffer.from(raw).toString('utf8'))) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') type = value;
  }
  return { type, data: data.length > 0 ? data.join('\n') : undefined };
}

/** The event with its data replaced: other fields kept in place, data lines where the first was. */
export function withData(raw: Uint8Array, data: string): Uint8Array {
  const text = Buffer.from(raw).toString('utf8');
  const eol = /\r\n|\r|\n/.exec(text)?.[0] ?? '\n';
  const out: string[] = [];
  let placed = false;
  const all = lines(text);
  // The terminator gives two trailing empty strings; rebuild them with the event's own EOL.
  while (all.length > 0 && all[all.length - 1] === '') all.pop();
  for (const line of all) {
    if (line === 'data' || line.startsWith('data:')) {
      if (!placed) for (const d of data.split('\n')) out.push(`data: ${d}`);
      placed = true;
      continue;
    }
    out.push(line);
  }
  return Buffer.from(out.join(eol) + eol + eol, 'utf8');
}

/** An SSE event carrying an error, for a stream callguard has to stop. */
export function errorEvent(json: string): Uint8Array {
  return Buffer.from(`event: error\ndata: ${json}\n\n`, 'utf8');
}
