// Applying decided actions: each finding's replacement spliced into the bytes of its
// scope; edits inside a JSON document carried in a string become one edit of that string in
// the enclosing scope. Only the replaced values' bytes change. A number literal with a
// replaced part becomes a JSON string (a number cannot hold a mask or a token); an edited
// object key is rewritten in place and kept unique in its object.

import { fieldLabel, maskText, redactPlaceholder } from '../enforce/actions.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import { sortSmall } from '../detect/index.js';
import { applyEdits, encodeJsonString, uniqueKey } from '../payload/json.js';
import type { Edit, JsonNode, JsonNumber, JsonObject, JsonString } from '../payload/json.js';
import type { Action, Finding, FindingDecision } from '../policy/types.js';
import type { InspectInput, Scope, Target } from './types.js';

/** The text of a finding's value: a hit's substring, a string's value, a scalar's spelling. */
export function valueOf(t: Target): string {
  switch (t.kind) {
    case 'span':
      return t.node.value.slice(t.start, t.end);
    case 'number':
      return t.node.raw.slice(t.start, t.end);
    case 'key':
      return t.object.members[t.index]!.key.slice(t.start, t.end);
    case 'field':
      return t.site.text.slice(t.start, t.end);
    case 'value':
      return scalarText(t.scope.bytes, t.node);
  }
}

/** A replaced part [start, end) of a text. */
interface Sub {
  start: number;
  end: number;
  text: string;
}

export type Replace = (action: Action, f: FindingDecision, original: string) => string;

/**
 * The replacement of a value under its action (never block or hold). A token costs an HMAC
 * and an AES-GCM encryption; the same value often comes back many times in one call (a chat
 * resends its history every turn). Tokens are deterministic, so one per distinct value and
 * kind, kept by this replacer only (one per call: no value outlives it).
 */
export function replacer(tokenizer: Tokenizer | undefined): Replace {
  const tokens = new Map<string, string>();
  return (action, f, original) => {
    if (action.type !== 'tokenize') return replacementFor(action, f, original, tokenizer);
    const key = `${tokenKind(f)}\0${original}`;
    let text = tokens.get(key);
    if (text === undefined)
      tokens.set(key, (text = replacementFor(action, f, original, tokenizer)));
    return text;
  };
}

/** `text` with each sub's part replaced (subs sorted by start, not overlapping). */
export function spliceText(text: string, subs: readonly Sub[]): string {
  let out = '';
  let at = 0;
  for (const s of subs) {
    if (s.start < at) continue; // the detectors never overlap; guard anyway
    out += text.slice(at, s.start) + s.text;
    at = s.end;
  }
  return out + text.slice(at);
}

function push<K, V>(map: Map<K, V[]>, key: K, v: V): void {
  const list = map.get(key);
  if (list) list.push(v);
  else map.set(key, [v]);
}

/** Applies each finding's action; returns the new body, or undefined if nothing changed. */
export function applyActions(
  input: InspectInput,
  top: Scope,
  targets: readonly Target[],
  findings: readonly FindingDecision[],
  actions: ReadonlyMap<FindingDecision, Action>,
): Uint8Array | undefined {
  // Whole-value edits by scope; hits inside a string or number grouped by literal, and hits
  // in keys by object, to become one edit each.
  const valueEdits = new Map<Scope, Edit[]>();
  const subEdits = new Map<Scope, Map<JsonString | JsonNumber, Sub[]>>();
  const keyEdits = new Map<Scope, Map<JsonObject, Map<number, Sub[]>>>();
  const replace = replacer(input.tokenizer);
  findings.forEach((f, i) => {
    const action = actions.get(f);
    const t = targets[i];
    // A held value goes on as it is once approved: the approval is for exactly this value.
    if (!action || !t || action.type === 'allow' || action.type === 'hold') return;
    switch (t.kind) {
      case 'field':
        return; // outside the body: its channel applies it
      case 'span':
      case 'number': {
        const original = valueOf(t);
        const text = replace(action, f, original);
        if (text === original) return;
        let byNode = subEdits.get(t.scope);
        if (!byNode) subEdits.set(t.scope, (byNode = new Map<JsonString | JsonNumber, Sub[]>()));
        push(byNode, t.node, { start: t.start, end: t.end, text });
        return;
      }
      case 'key': {
        const original = valueOf(t);
        const text = replace(action, f, original);
        if (text === original) return;
        let byObject = keyEdits.get(t.scope);
        if (!byObject)
          keyEdits.set(t.scope, (byObject = new Map<JsonObject, Map<number, Sub[]>>()));
        let byMember = byObject.get(t.object);
        if (!byMember) byObject.set(t.object, (byMember = new Map<number, Sub[]>()));
        push(byMember, t.index, { start: t.start, end: t.end, text });
        return;
      }
      case 'value': {
        const bytes = encodeJsonString(replace(action, f, valueOf(t)));
        // An edit that changes nothing (say, an empty string masked) is no edit: the body then
        // stays the original, and is forwarded as it came (even compressed).
        if (Buffer.compare(bytes, t.scope.bytes.subarray(t.node.start, t.node.end)) === 0) return;
        push(valueEdits, t.scope, { start: t.node.start, end: t.node.end, replacement: bytes });
      }
    }
  });

  for (const [scope, byNode] of subEdits) {
    const list = valueEdits.get(scope) ?? [];
    for (const [node, subs] of byNode) {
      sortSmall(subs, (a, b) => a.start - b.start);
      if (node.kind === 'string' && spliceSubEdits(node, subs, list)) continue;
      const text = spliceText(node.kind === 'string' ? node.value : node.raw, subs);
      list.push({ start: node.start, end: node.end, replacement: encodeJsonString(text) });
    }
    valueEdits.set(scope, list);
  }
  for (const [scope, byObject] of keyEdits) {
    const list = valueEdits.get(scope) ?? [];
    for (const [object, byMember] of byObject) keyEditsOf(object, byMember, list);
    valueEdits.set(scope, list);
  }
  // Inner documents: each becomes one edit of its string in the enclosing scope.
  for (const scope of [...valueEdits.keys()]) {
    if (!scope.parent) continue;
    const edited = applyEdits(scope.bytes, valueEdits.get(scope) ?? []);
    const { scope: parent, node } = scope.parent;
    push(valueEdits, parent, {
      start: node.start,
      end: node.end,
      replacement: encodeJsonString(Buffer.from(edited).toString('utf8')),
    });
  }
  const edits = valueEdits.get(top);
  return edits && edits.length > 0 ? applyEdits(top.bytes, edits) : undefined;
}

/**
 * The edits of an object's keys: each edited key made unique among all the object's keys
 * (`[REDACTED:internal:email]`, then `[REDACTED:internal:email]#2`), in document order.
 */
function keyEditsOf(object: JsonObject, byMember: Map<number, Sub[]>, list: Edit[]): void {
  const members = object.members;
  const taken = new Set<string>();
  for (let i = 0; i < members.length; i++) if (!byMember.has(i)) taken.add(members[i]!.key);
  for (const i of [...byMember.keys()].sort((a, b) => a - b)) {
    const subs = byMember.get(i)!;
    sortSmall(subs, (a, b) => a.start - b.start);
    const m = members[i]!;
    const key = uniqueKey(taken, spliceText(m.key, subs));
    taken.add(key);
    list.push({ start: m.keySpan.start, end: m.keySpan.end, replacement: encodeJsonString(key) });
  }
}

/**
 * Edits for hits inside a string literal that is plain ASCII without escapes (byte length
 * = UTF-16 length, the common case): each hit's bytes are replaced where they are, instead
 * of re-encoding the whole string. The result is byte-identical to re-encoding it: such a
 * literal's bytes are exactly what encodeJsonString gives for its value, and the encoding of
 * well-formed text is the concatenation of its parts' encodings. False (nothing pushed):
 * the caller re-encodes the string.
 */
function spliceSubEdits(
  node: JsonString,
  subs: readonly { start: number; end: number; text: string }[],
  list: Edit[],
): boolean {
  if (node.end - node.start - 2 !== node.value.length) return false;
  for (const s of subs) if (!isWellFormed(s.text)) return false;
  let at = 0;
  const base = node.start + 1;
  for (const s of subs) {
    if (s.start < at) continue; // the detectors never overlap; guard anyway
    list.push({ start: base + s.start, end: base + s.end, replacement: literalContent(s.text) });
    at = s.end;
  }
  return true;
}

/**
 * The bytes of `text` inside a JSON string literal (without the quotes). A mask, token or
 * placeholder is nearly always printable ASCII without `"` or `\\`: its bytes are its
 * characters, written into a pooled Buffer rather than through TextEncoder.
 */
function literalContent(text: string): Uint8Array {
  let plain = true;
  for (let i = 0; i < text.length && plain; i++) {
    const c = text.charCodeAt(i);
    plain = c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
  }
  if (plain) return Buffer.from(text, 'latin1');
  const literal = encodeJsonString(text);
  return literal.subarray(1, literal.length - 1);
}

/** String.prototype.isWellFormed (ES2024, Node 20): not in the ES2023 lib the build uses. */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** The text that replaces a finding's value under `action` (never block or hold). */
export function replacementFor(
  action: Action,
  f: Finding,
  original: string,
  tokenizer: Tokenizer | undefined,
): string {
  switch (action.type) {
    case 'mask':
      return maskText(original, action);
    case 'redact':
      return redactPlaceholder(f.level, fieldLabel(f.path, f.detector));
    case 'tokenize': {
      if (!tokenizer) throw new TypeError('tokenize action without a tokenizer');
      // A value that already is one of our tokens (a model passing a token back) stays as
      // it is: tokenizing it again would hide the value behind two layers.
      if (tokenizer.owns(original)) return original;
      return tokenizer.tokenize(original, tokenKind(f));
    }
    case 'allow':
      return original;
    case 'block':
    case 'hold':
      // block is refused before edits; a held value is never replaced.
      throw new TypeError(`action ${action.type} has no replacement`);
  }
}

/** tokenKind of a detector's finding, by detector id (trusted configuration, bounded). */
const DETECTOR_TOKEN_KINDS = new Map<string, string>();

/** `card` in `tok_card_…`: the detector, else the field name, as [a-z0-9]{1,24}. */
function tokenKind(f: Finding): string {
  if (f.detector === undefined) return tokenKindOf(f);
  let kind = DETECTOR_TOKEN_KINDS.get(f.detector);
  if (kind === undefined) DETECTOR_TOKEN_KINDS.set(f.detector, (kind = tokenKindOf(f)));
  return kind;
}

function tokenKindOf(f: Finding): string {
  const kind = fieldLabel(f.path.replace(/^.*#/, ''), f.detector)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 24);
  return kind || 'value';
}

/** A scalar's text: a string's decoded value, a number's or literal's source spelling. */
function scalarText(bytes: Uint8Array, node: JsonNode): string {
  if (node.kind === 'string') return node.value;
  return Buffer.from(bytes.buffer, bytes.byteOffset + node.start, node.end - node.start).toString(
    'utf8',
  );
}
