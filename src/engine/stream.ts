// The stream inspector: a `text/event-stream` answer inspected event by event as it
// arrives, never buffered whole. Each event's own strings are classified like any body; the
// fragments of a longer text (deltas) are joined per channel, so a value split across events
// is still found. A channel holds back only its tail that could still be the start of a
// sensitive value (the current run of non-blank characters, digit groups joined by single
// spaces, an open PEM block), bounded; everything before it is released at once. A channel
// of JSON text (tool-call arguments) is followed by a small lexer, so a value found outside
// a string literal (a bare number) is replaced by a JSON string and one inside a literal by
// escaped text: the arguments stay JSON. Pure: bytes in, bytes out, no I/O.
//
// On a route with external analyzers a chunk takes two steps around the analyzers' I/O:
// plan() splits it into events and lists the texts they bring (each event's own strings,
// data that is not JSON, and for each channel that can release text, its unreleased text
// with some released context: the "window"); push() with the analyzers' hits then does the
// rest. A channel then holds its text back to the end of a sentence (bounded like any
// hold), so an analyzer reads a name or an address whole; and a channel whose window was
// not analyzed releases nothing.

import { CallguardError, errorBody } from '../errors.js';
import { eventDeltas } from '../payload/formats/deltas.js';
import type { Delta } from '../payload/formats/deltas.js';
import { applyEdits, encodeJsonString, parseJson } from '../payload/json.js';
import type { Edit, JsonNode } from '../payload/json.js';
import { errorEvent, parseEvent, SseSplitter, withData } from '../payload/sse.js';
import type { SseEvent } from '../payload/sse.js';
import { actionRank } from '../policy/types.js';
import type { Action, Decision, Finding, FindingDecision } from '../policy/types.js';
import { replacer } from './apply.js';
import { detectText, mergeHits, planTree, scanTree } from './classify.js';
import type { TreePlan } from './classify.js';
import { judge, refusal, settle } from './settle.js';
import type { AnalyzedText, AnalyzerHit, AnalyzerHits, InspectInput } from './types.js';

/** What a stream inspector works with: an inspection's input without a body. */
export interface StreamInput extends Omit<InspectInput, 'body'> {
  /** The exchange's session id, named in the error event of a stopped stream. */
  sessionId?: string | undefined;
}

export interface StreamLimits {
  /** Longest event (bytes) accepted before the stream is refused. */
  maxEventBytes: number;
  /** Most characters a channel holds back for an unfinished value. */
  maxHoldChars: number;
  /** Most characters held for an open `-----BEGIN … PRIVATE KEY-----` block. */
  maxPemHoldChars: number;
}

const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxEventBytes: 1 << 20,
  maxHoldChars: 256,
  maxPemHoldChars: 16_384,
};

/** Released text kept as context for the detectors (context words, word boundaries). */
const CONTEXT_CHARS = 64;

interface PendingEvent {
  index: number;
  /** The event's bytes after its own (non-delta) edits. */
  raw: Uint8Array;
  /** Its data after those edits, when it is JSON with deltas. */
  data?: Uint8Array;
  deltas: DeltaState[];
}

interface DeltaState {
  delta: Delta;
  /** Offsets of the fragment in its channel's text. */
  start: number;
  end: number;
  /** The fragment as released (undefined: not yet final). */
  final?: string;
}

/** A detector's or an analyzer's hit in a channel's text (absolute offsets). */
interface ChannelHit {
  start: number;
  end: number;
  detector: string;
  level: string;
  score: number;
  analyzer?: string;
}

/** One event of a planned chunk, read. */
interface PlannedEvent {
  e: SseEvent;
  /** Data that is JSON: parsed, its own texts listed (the deltas apart). */
  json?: { bytes: Buffer; root: JsonNode; tree: TreePlan; deltas: Delta[]; ends: boolean };
  /** Data that is not JSON: one text, scanned whole. */
  text?: AnalyzedText;
}

/** A chunk split into events, with the texts the analyzers are to read (plan()). */
export interface StreamBatch {
  /** The texts to give the route's analyzers; their hits are keyed by these. */
  readonly items: readonly AnalyzedText[];
}

class Batch implements StreamBatch {
  readonly items: AnalyzedText[] = [];
  readonly events: PlannedEvent[] = [];
  /** Per channel name: its window's offset in the channel's text, and the window. */
  readonly windows = new Map<string, { start: number; item: AnalyzedText }>();
  /** Reading failed (an event too large, a contract violation): push() stops with it. */
  error: unknown;
  constructor(readonly end: boolean) {}
}

interface DecidedHit {
  start: number;
  end: number;
  finding: FindingDecision;
  action: Action;
  /** What the value's text becomes (the original for allow). */
  replacement: string;
}

interface Channel {
  name: string;
  /** The channel's text from `base` on (earlier text is released and dropped). */
  text: string;
  base: number;
  /** Absolute offset up to which the text is final. */
  released: number;
  fragments: DeltaState[];
  /** For JSON text (tool-call arguments): where its string literals are. */
  lexer?: JsonLexer;
  /** Key hits replaced so far in this channel (JSON text): the next one's suffix. */
  keyEdits: number;
}

/**
 * Where a channel of JSON text has its string literals, read as the text streams in: enough
 * to tell, for an offset, whether it is in a key, in a string value, or outside any string
 * (a number, a literal). Not a validator: text that is not JSON only misplaces a guess.
 */
class JsonLexer {
  /** String literals, in order: [start, end) absolute (end Infinity while open). */
  private strings: { start: number; end: number; key: boolean }[] = [];
  private inString = false;
  private escape = false;
  /** Open containers: true for an object. */
  private readonly stack: boolean[] = [];
  private expectKey = false;

  feed(text: string, at: number): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.strings[this.strings.length - 1]!.end = at + i + 1;
          this.inString = false;
          this.expectKey = false;
        }
        continue;
      }
      switch (c) {
        case 0x22:
          this.strings.push({ start: at + i, end: Infinity, key: this.expectKey });
          this.inString = true;
          break;
        case 0x7b:
          this.stack.push(true);
          this.expectKey = true;
          break;
        case 0x5b:
          this.stack.push(false);
          this.expectKey = false;
          break;
        case 0x7d:
        case 0x5d:
          this.stack.pop();
          this.expectKey = false;
          break;
        case 0x2c:
          this.expectKey = this.stack[this.stack.length - 1] === true;
          break;
        case 0x3a:
          this.expectKey = false;
          break;
      }
    }
  }

  /** What the character at absolute offset `at` is part of. */
  where(at: number): 'key' | 'string' | 'bare' {
    const list = this.strings;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i]!;
      if (s.start < at && at < s.end) return s.key ? 'key' : 'string';
      if (s.end <= at) break;
    }
    return 'bare';
  }

  /** Forgets the literals that end before `at` (released text). */
  drop(at: number): void {
    let n = 0;
    while (n < this.strings.length && this.strings[n]!.end <= at) n++;
    if (n > 0) this.strings = this.strings.slice(n);
  }
}

export interface StreamOutput {
  /** Bytes to forward for this chunk (may be empty while a tail is held). */
  body: Uint8Array;
  /** The stream was stopped (a value the policy blocks or holds, or a broken event). */
  stopped: boolean;
}

export class StreamInspector {
  private readonly splitter: SseSplitter;
  private readonly queue: PendingEvent[] = [];
  private readonly channels = new Map<string, Channel>();
  private readonly findings: FindingDecision[] = [];
  private readonly trace: string[] = [];
  private action: Decision['action'] = 'allow';
  private events = 0;
  private stopped = false;
  /** Set when the stream was stopped: the error to record. */
  error: CallguardError | undefined;
  changed = false;
  /** The analyzers' hits for the batch being pushed. */
  private analyzed: AnalyzerHits | undefined;
  /** The analyzers' hits in each channel's window (absolute offsets), for that batch. */
  private readonly windowHits = new Map<string, AnalyzerHit[]>();

  constructor(
    private readonly input: StreamInput,
    private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {
    this.splitter = new SseSplitter(limits.maxEventBytes);
  }

  /** The decision so far: every finding of the stream, the strictest action. */
  decision(): Decision {
    return { action: this.action, findings: this.findings, trace: this.trace };
  }

  /**
   * The first step of a chunk on a route with analyzers: splits it into events and lists the
   * texts they bring. push() must follow with the batch, before the next plan().
   */
  plan(chunk: Uint8Array, end: boolean): StreamBatch {
    return this.batch(chunk, end);
  }

  private batch(chunk: Uint8Array, end: boolean): Batch {
    const batch = new Batch(end);
    if (this.stopped) return batch;
    try {
      const events = this.splitter.push(chunk);
      if (end) {
        const last = this.splitter.flush();
        if (last) events.push(last);
      }
      for (const e of events) batch.events.push(this.read(e, batch));
      this.plannedWindows(batch);
    } catch (e) {
      // The events read before it are still taken (their findings recorded), then the
      // stream stops: nothing is released. The analyzers are not asked.
      batch.error = e;
      batch.items.length = 0;
      batch.windows.clear();
    }
    return batch;
  }

  /**
   * A chunk, inspected: what is safe to release goes on. With analyzers, `chunk` is the
   * batch plan() made of it, and `hits` the analyzers' hits in its texts.
   */
  push(chunk: Uint8Array | StreamBatch, end: boolean, hits?: AnalyzerHits): StreamOutput {
    if (this.stopped) return { body: new Uint8Array(0), stopped: true };
    let batch: Batch;
    if (chunk instanceof Batch) batch = chunk;
    else if (chunk instanceof Uint8Array) batch = this.batch(chunk, end);
    else throw new TypeError('not a batch of plan()');
    this.analyzed = hits;
    this.windowHits.clear();
    try {
      for (const [name, w] of batch.windows) {
        const found = hits?.get(w.item) ?? [];
        this.windowHits.set(
          name,
          found.map((h) => ({ ...h, start: h.start + w.start, end: h.end + w.start })),
        );
      }
      for (const e of batch.events) this.accept(e);
      if (batch.error !== undefined) return this.stop(batch.error);
      if (batch.end) for (const ch of this.channels.values()) this.release(ch, true);
      return { body: this.drain(), stopped: false };
    } catch (e) {
      return this.stop(e);
    } finally {
      this.analyzed = undefined;
    }
  }

  /** Reads one event: its data parsed and its own texts listed, or its data as text. */
  private read(e: SseEvent, batch: Batch): PlannedEvent {
    const { data } = parseEvent(e.raw);
    if (data === undefined || data === '[DONE]') return { e };
    const bytes = Buffer.from(data, 'utf8');
    let root: JsonNode;
    try {
      root = parseJson(bytes, { maxDepth: this.input.maxDepth });
    } catch (err) {
      if (!(err instanceof CallguardError)) throw err;
      // Data that is not JSON is text: scanned whole.
      const text = { text: data };
      batch.items.push(text);
      return { e, text };
    }
    const { deltas, ends } = eventDeltas(this.input.route.format, root);
    const tree = planTree(
      { ...this.input, body: bytes },
      root,
      bytes,
      deltas.map((d) => d.node),
    );
    batch.items.push(...tree.sites);
    return { e, json: { bytes, root, tree, deltas, ends } };
  }

  /**
   * On a route with analyzers, the window of each channel that may release text in this
   * batch: its unreleased text and the batch's fragments, after some released context.
   */
  private plannedWindows(batch: Batch): void {
    if (!this.input.route.analyzers?.length) return;
    const added = new Map<string, string>();
    for (const ev of batch.events)
      for (const d of ev.json?.deltas ?? [])
        added.set(d.channel, (added.get(d.channel) ?? '') + d.node.value);
    const names = new Set([...this.channels.keys(), ...added.keys()]);
    for (const name of names) {
      const ch = this.channels.get(name) ?? {
        name,
        text: '',
        base: 0,
        released: 0,
        fragments: [],
        keyEdits: 0,
      };
      const after: Channel = { ...ch, text: ch.text + (added.get(name) ?? '') };
      const total = after.base + after.text.length;
      if (total <= ch.released) continue;
      if (!batch.end && this.safePoint(after) <= ch.released) continue; // nothing to release
      const start = Math.max(ch.base, ch.released - CONTEXT_CHARS);
      const item = { text: after.text.slice(start - ch.base) };
      batch.windows.set(name, { start, item });
      batch.items.push(item);
    }
  }

  /** Stops the stream with `e` (an analyzer the policy needs did not answer): an error event. */
  fail(e: CallguardError): StreamOutput {
    if (this.stopped) return { body: new Uint8Array(0), stopped: true };
    return this.stop(e);
  }

  private stop(e: unknown): StreamOutput {
    this.stopped = true;
    let err: CallguardError;
    if (e instanceof CallguardError) err = e;
    else if (e instanceof RangeError)
      err = new CallguardError('body_too_large', 'an event of the stream is too large', {
        rule: 'limits.max_body_bytes',
      });
    else throw e;
    this.error = err;
    // The findings that stopped the stream are the stream's findings too (audit, search).
    if (err.decision) this.record(err.decision);
    this.action = 'block';
    this.trace.push(`stream stopped: ${err.code}`);
    // Nothing held is released: it may hold the value the policy refuses.
    this.queue.length = 0;
    const { body } = errorBody(err, this.input.sessionId ?? '');
    return { body: errorEvent(JSON.stringify(body)), stopped: true };
  }

  private accept(ev: PlannedEvent): void {
    const { e } = ev;
    const index = this.events++;
    const pending: PendingEvent = { index, raw: e.raw, deltas: [] };
    this.queue.push(pending);
    if (ev.text) {
      this.settleText(pending, ev.text);
      return;
    }
    if (!ev.json) return;
    const { bytes, tree, deltas, ends } = ev.json;
    const input: InspectInput = { ...this.input, body: bytes };
    const scan = scanTree(input, tree, this.analyzed);
    const prefix = `/events/${index}`;
    for (const f of scan.collected.findings) f.path = prefix + f.path;
    const done = settle(input, scan);
    refuseHold(done.decision);
    this.record(done.decision);
    let dataBytes = bytes;
    if (done.body) {
      dataBytes = Buffer.from(done.body);
      pending.raw = withData(e.raw, dataBytes.toString('utf8'));
      this.changed = true;
    }
    if (deltas.length > 0) {
      // Delta edits come later, on the (possibly edited) data: locate the fragments there.
      pending.data = dataBytes;
      const located = done.body
        ? eventDeltas(
            this.input.route.format,
            parseJson(dataBytes, { maxDepth: this.input.maxDepth }),
          ).deltas
        : deltas;
      for (const d of located) {
        const ch = this.channel(d.channel, d.json);
        const start = ch.base + ch.text.length;
        ch.text += d.node.value;
        ch.lexer?.feed(d.node.value, start);
        const state: DeltaState = {
          delta: { ...d, path: prefix + d.path },
          start,
          end: start + d.node.value.length,
        };
        ch.fragments.push(state);
        pending.deltas.push(state);
      }
    }
    for (const [, ch] of this.channels) this.release(ch, ends);
  }

  private channel(name: string, json: boolean): Channel {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = { name, text: '', base: 0, released: 0, fragments: [], keyEdits: 0 };
      if (json) ch.lexer = new JsonLexer();
      this.channels.set(name, ch);
    }
    return ch;
  }

  /** Non-JSON data: one text, scanned and replaced whole. */
  private settleText(pending: PendingEvent, item: AnalyzedText): void {
    const data = item.text;
    const hits = this.merged(this.hits(data, 0), this.analyzed?.get(item));
    if (hits.length === 0) return;
    const text = this.rewrite(data, 0, hits, `/events/${pending.index}`);
    pending.raw = withData(pending.raw, text);
    this.changed = true;
  }

  private record(d: Decision): void {
    this.findings.push(...d.findings);
    if (actionRank(d.action) < actionRank(this.action)) this.action = d.action;
    if (d.findings.length > 0) this.trace.push(...d.trace);
  }

  /** Releases the channel's text up to its safe point (everything, when `all`). */
  private release(ch: Channel, all: boolean): void {
    const total = ch.base + ch.text.length;
    if (ch.fragments.length === 0) return;
    const safe = all ? total : this.safePoint(ch);
    // Whole fragments only: the last one ending at or before the safe point.
    let cut = ch.released;
    for (const f of ch.fragments) if (f.end <= safe) cut = f.end;
    if (cut <= ch.released) return;
    const from = ch.released;
    const contextStart = Math.max(ch.base, from - CONTEXT_CHARS);
    const scanned = ch.text.slice(contextStart - ch.base, safe - ch.base);
    let hits = this.hits(scanned, contextStart);
    if (this.input.route.analyzers?.length) {
      // Only text the analyzers read goes on; their spans may reach past the safe point,
      // and then hold the fragments they start in, like any value crossing the cut.
      const found = this.windowHits.get(ch.name);
      if (!found) return;
      hits = this.merged(
        hits,
        found.filter((h) => h.start >= contextStart && h.start < safe),
      );
    }
    hits = hits.filter((h) => h.end > from);
    // A value crossing the cut keeps its fragments held (unless everything is released).
    for (;;) {
      const crossing = hits.find((h) => h.start < cut && h.end > cut);
      if (!crossing) break;
      const startFrag = ch.fragments.find((f) => f.end > crossing.start);
      cut = startFrag ? startFrag.start : from;
      if (cut <= from) return;
    }
    hits = hits.filter((h) => h.end <= cut);
    const decided = this.decideHits(hits, ch);
    for (const f of ch.fragments) {
      if (f.end > cut) break;
      let text = ch.text.slice(f.start - ch.base, f.end - ch.base);
      const own = decided.filter((h) => h.start < f.end && h.end > f.start);
      if (own.length > 0) {
        text = this.fragmentText(ch, f, own);
        this.changed = true;
      }
      f.final = text;
    }
    ch.fragments = ch.fragments.filter((f) => f.final === undefined);
    ch.released = cut;
    const keep = Math.max(ch.base, cut - CONTEXT_CHARS);
    ch.text = ch.text.slice(keep - ch.base);
    ch.base = keep;
    ch.lexer?.drop(keep);
  }

  /**
   * Where the held tail begins: the start of a run that could still grow into a value; with
   * analyzers, the end of the last sentence (within the hold limit), so names and addresses
   * are read whole.
   */
  private safePoint(ch: Channel): number {
    const word = this.wordSafePoint(ch);
    if (!this.input.route.analyzers?.length) return word;
    const text = ch.text;
    const floor = Math.max(0, text.length - this.limits.maxHoldChars, ch.released - ch.base);
    for (let i = text.length; i > floor; i--) {
      const c = text.charCodeAt(i - 1);
      const ends = c === 0x0a || (isSpace(c) && isSentenceEnd(text.charCodeAt(i - 2)));
      // Never past the word-level point: an open PEM block spans lines.
      if (ends) return Math.min(ch.base + i, word);
    }
    // No sentence end yet: hold it all while it fits the hold limit, then release word by
    // word as without analyzers.
    const held = text.length - (ch.released - ch.base);
    return held < this.limits.maxHoldChars ? Math.min(ch.released, word) : word;
  }

  private wordSafePoint(ch: Channel): number {
    const text = ch.text;
    const total = ch.base + text.length;
    const pem = text.lastIndexOf('-----BEGIN');
    if (
      pem >= 0 &&
      text.indexOf('-----END', pem) < 0 &&
      total - (ch.base + pem) <= this.limits.maxPemHoldChars
    ) {
      return ch.base + pem;
    }
    let i = text.length;
    const floor = Math.max(0, text.length - this.limits.maxHoldChars, ch.released - ch.base);
    while (i > floor) {
      const c = text.charCodeAt(i - 1);
      if (!isSpace(c)) {
        i--;
        continue;
      }
      // A single space or dash between digit groups (cards, IBANs, phone numbers) joins.
      const before = text.charCodeAt(i - 2);
      const after = text.charCodeAt(i);
      if (c === 0x20 && isDigitLike(before) && (i === text.length || isDigitLike(after))) {
        i--;
        continue;
      }
      break;
    }
    return ch.base + i;
  }

  private hits(text: string, offset: number): ChannelHit[] {
    return detectText(this.input, text, []).map((h) => ({
      start: h.start + offset,
      end: h.end + offset,
      detector: h.detector,
      level: h.level,
      score: h.score,
    }));
  }

  /** The detectors' hits and the analyzers' (same offsets), merged as in a body. */
  private merged(hits: ChannelHit[], found: readonly AnalyzerHit[] | undefined): ChannelHit[] {
    if (!found || found.length === 0) return hits;
    return [...mergeHits(hits, found, this.input.policy.levels)];
  }

  private decideHits(hits: ChannelHit[], ch: Channel): DecidedHit[] {
    if (hits.length === 0) return [];
    const findings: Finding[] = hits.map((h) => {
      const frag = ch.fragments.find((f) => f.end > h.start) ?? ch.fragments[0];
      const f: Finding = {
        direction: this.input.direction,
        path: frag?.delta.path ?? '',
        level: h.level,
        source: 'detector',
        detector: h.detector,
        span: { start: h.start, end: h.end },
      };
      if (h.analyzer !== undefined) f.analyzer = h.analyzer;
      return f;
    });
    const { decision, actions } = judge(
      this.input,
      findings,
      (i) => ch.text.slice(hits[i]!.start - ch.base, hits[i]!.end - ch.base),
      'the streamed answer',
    );
    refuseHold(decision);
    this.record(decision);
    const replace = replacer(this.input.tokenizer);
    return decision.findings.map((f, i) => {
      const h = hits[i]!;
      const action = actions.get(f)!;
      const original = ch.text.slice(h.start - ch.base, h.end - ch.base);
      let replacement = action.type === 'allow' ? original : replace(action, f, original);
      const where = ch.lexer && replacement !== original ? ch.lexer.where(h.start) : undefined;
      if (where === 'bare') {
        // A bare number: its replacement is a JSON string (a number cannot hold a mask).
        replacement = JSON.stringify(replacement);
      } else if (where !== undefined) {
        // Inside a literal: escaped for one. A replaced key gets a suffix from the channel's
        // second on (`…#2`), so that two masked or redacted keys of one object stay two.
        if (where === 'key' && ++ch.keyEdits > 1 && action.type !== 'tokenize')
          replacement += `#${ch.keyEdits}`;
        replacement = JSON.stringify(replacement).slice(1, -1);
      }
      return { start: h.start, end: h.end, finding: f, action, replacement };
    });
  }

  /** A fragment's released text: each hit's replacement, cut to the fragment's part of it. */
  private fragmentText(ch: Channel, f: DeltaState, own: DecidedHit[]): string {
    let out = '';
    let at = f.start;
    for (const h of own.sort((a, b) => a.start - b.start)) {
      const s = Math.max(h.start, f.start);
      const e = Math.min(h.end, f.end);
      if (s < at) continue;
      out += ch.text.slice(at - ch.base, s - ch.base);
      const original = ch.text.slice(h.start - ch.base, h.end - ch.base);
      const replacement = h.replacement;
      if (replacement.length === original.length) {
        // Same length (mask, allow): each fragment keeps its own part, so nothing moves.
        out += replacement.slice(s - h.start, e - h.start);
      } else if (s === h.start) {
        // Other lengths (redact, tokenize): the whole replacement goes where the value began.
        out += replacement;
      }
      at = e;
    }
    return out + ch.text.slice(at - ch.base, f.end - ch.base);
  }

  /** Text scanned whole (non-JSON data): decided and replaced at once. */
  private rewrite(text: string, base: number, hits: ChannelHit[], path: string): string {
    const ch: Channel = {
      name: '',
      text,
      base,
      released: 0,
      fragments: [
        {
          delta: {
            channel: '',
            path,
            node: { kind: 'string', value: text, start: 0, end: 0 },
            json: false,
          },
          start: base,
          end: base + text.length,
        },
      ],
      keyEdits: 0,
    };
    const decided = this.decideHits(hits, ch);
    return this.fragmentText(ch, ch.fragments[0]!, decided);
  }

  /** Forwards, in order, every event whose fragments are all final. */
  private drain(): Uint8Array {
    const out: Uint8Array[] = [];
    while (this.queue.length > 0) {
      const e = this.queue[0]!;
      if (e.deltas.some((d) => d.final === undefined)) break;
      this.queue.shift();
      out.push(this.render(e));
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private render(e: PendingEvent): Uint8Array {
    if (!e.data || e.deltas.every((d) => d.final === d.delta.node.value)) return e.raw;
    const root = parseJson(e.data, { maxDepth: this.input.maxDepth });
    const located = eventDeltas(this.input.route.format, root).deltas;
    const edits: Edit[] = [];
    located.forEach((d, i) => {
      const state = e.deltas[i];
      if (state?.final !== undefined && state.final !== d.node.value) {
        edits.push({
          start: d.node.start,
          end: d.node.end,
          replacement: encodeJsonString(state.final),
        });
      }
    });
    return withData(e.raw, Buffer.from(applyEdits(e.data, edits)).toString('utf8'));
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xa0;
}

/** `.`, `!`, `?`: a sentence ends there when a space follows. */
function isSentenceEnd(c: number): boolean {
  return c === 0x2e || c === 0x21 || c === 0x3f;
}

function isDigitLike(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x29 /* ) */ || c === 0x28 /* ( */ || c === 0x2b; /* + */
}

/** A stream cannot wait for an approval: a value the policy holds stops it (fail closed). */
function refuseHold(d: Decision): void {
  if (d.action === 'hold')
    throw refusal(d, 'hold', 'a streamed answer cannot wait for an approval');
}
