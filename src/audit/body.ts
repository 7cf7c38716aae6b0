// A body as the audit record keeps it: the bytes as forwarded (masked by policy), except
// that a value at `confidential` or above (Levels.clearRank: where `confidential` lands on
// the policy's ladder) that a rule let through in clear (`allow`) is redacted again for the
// record, and the text is capped in size. If such a value cannot be
// located in the forwarded body, the text is withheld rather than stored: fail closed.

import { fieldLabel, redactPlaceholder } from '../enforce/actions.js';
import { applyEdits, encodeJsonString, locate, parseJson } from '../payload/json.js';
import type { Edit, JsonNode } from '../payload/json.js';
import type { Levels } from '../policy/levels.js';
import type { Decision } from '../policy/types.js';
import type { AuditBody } from './record.js';

/** The rank from which a value never appears in clear in a record. */
export function clearThreshold(levels: Levels): number {
  return levels.clearRank;
}

export function auditBody(
  forwarded: Uint8Array,
  decision: Decision,
  levels: Levels,
  opts: { maxBytes: number; maxDepth: number },
): AuditBody {
  const threshold = clearThreshold(levels);
  const inClear = decision.findings.filter(
    (f) => f.action === 'allow' && levels.has(f.level) && levels.rankOf(f.level) >= threshold,
  );
  let bytes = forwarded;
  if (inClear.length > 0) {
    let root: JsonNode;
    try {
      root = parseJson(forwarded, { maxDepth: opts.maxDepth });
    } catch {
      return { bytes: forwarded.length, truncated: false, withheld: 'unparsable' };
    }
    const edits: Edit[] = [];
    for (const f of inClear) {
      // A value, or (a `~key<i>` path) a key: its placeholder then carries the member's
      // position, so that two redacted keys of one object stay two keys.
      const span = locate(root, f.path);
      if (!span) return { bytes: forwarded.length, truncated: false, withheld: 'unlocatable' };
      const placeholder = redactPlaceholder(f.level, fieldLabel(f.path, f.detector));
      const key = /\/~key(\d+)$/.exec(f.path);
      edits.push({
        start: span.start,
        end: span.end,
        replacement: encodeJsonString(key ? `${placeholder}#${Number(key[1]) + 1}` : placeholder),
      });
    }
    edits.sort((a, b) => a.start - b.start);
    // Nested findings: keep the outermost edit only (it covers the inner ones).
    const flat: Edit[] = [];
    for (const e of edits) {
      const last = flat.at(-1);
      if (last && e.start < last.end) continue;
      flat.push(e);
    }
    bytes = applyEdits(forwarded, flat);
  }
  return capText(bytes, forwarded.length, opts.maxBytes);
}

function capText(bytes: Uint8Array, forwardedBytes: number, maxBytes: number): AuditBody {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length <= maxBytes) {
    return { text: buf.toString('utf8'), bytes: forwardedBytes, truncated: false };
  }
  // Cut on a UTF-8 character boundary.
  let end = maxBytes;
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return { text: buf.subarray(0, end).toString('utf8'), bytes: forwardedBytes, truncated: true };
}
