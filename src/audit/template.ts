// The composable index template for session records: daily indices
// `<prefix>-YYYY.MM.DD`, all behind the alias `<prefix>`, explicit mappings. Core features
// only (no data streams, ILM, painless or wildcard fields), so it works on any 8.x or 9.x
// cluster, including the minimal distribution the tests run.

import type { Client, estypes } from '@elastic/elasticsearch';

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
// Bodies and traces are evidence to read, not to query: not indexed (no second copy of the
// payloads in the inverted index, no way to search for a value except by its fingerprint),
// kept in _source only.
const stored = { type: 'text', index: false } as const;

const side = {
  properties: {
    action: keyword,
    trace: stored,
    body: stored,
    body_bytes: { type: 'long' },
    body_truncated: { type: 'boolean' },
    body_withheld: keyword,
  },
} as const;

export const SESSION_MAPPINGS = {
  // strict: documents are built by code (audit/record.ts), so a field the template does not
  // know is a bug; Elasticsearch rejects the document, which goes to the dead-letter file
  // with the reason, instead of silently growing the mapping.
  dynamic: 'strict',
  properties: {
    '@timestamp': { type: 'date' },
    event: {
      properties: {
        kind: keyword,
        category: keyword,
        type: keyword,
        action: keyword,
        outcome: keyword,
        duration: { type: 'long' },
        id: keyword,
      },
    },
    user: {
      properties: {
        id: keyword,
        name: keyword,
        email: keyword,
        roles: keyword,
      },
    },
    source: { properties: { ip: { type: 'ip' } } },
    http: {
      properties: {
        request: { properties: { method: keyword, id: keyword } },
        response: { properties: { status_code: { type: 'long' } } },
      },
    },
    url: { properties: { path: keyword, domain: keyword } },
    trace: { properties: { id: keyword } },
    span: { properties: { id: keyword } },
    callguard: {
      properties: {
        session_id: keyword,
        auth_method: keyword,
        issuer: keyword,
        route: keyword,
        route_via: keyword,
        function: keyword,
        format: keyword,
        decision: keyword,
        action: keyword,
        outcome: keyword,
        max_level: keyword,
        record_mode: keyword,
        approval_id: keyword,
        approval: {
          properties: {
            id: keyword,
            state: keyword,
            held_session_id: keyword,
            held_at: { type: 'date' },
            approved_by: {
              properties: {
                reviewer: keyword,
                at: { type: 'date' },
                break_glass: { type: 'boolean' },
              },
            },
            rejected_by: keyword,
            used_at: { type: 'date' },
          },
        },
        upstream_status: { type: 'long' },
        error: {
          properties: {
            code: keyword,
            status: { type: 'long' },
            rule: keyword,
            paths: keyword,
          },
        },
        // nested: "a restricted finding at /card/number" must match one finding, not a
        // restricted one somewhere and /card/number elsewhere.
        findings: {
          type: 'nested',
          properties: {
            direction: keyword,
            path: keyword,
            level: keyword,
            source: keyword,
            detector: keyword,
            action: keyword,
            rule: keyword,
            record: keyword,
            fingerprint: keyword,
            analyzer: keyword,
            monitor: keyword,
          },
        },
        analyzers: {
          properties: {
            analyzer: keyword,
            direction: keyword,
            outcome: keyword,
            error: keyword,
            status: { type: 'long' },
            on_error: keyword,
            texts: { type: 'long' },
            cached: { type: 'long' },
            requests: { type: 'long' },
            duration_ms: { type: 'double' },
          },
        },
        request: {
          properties: {
            ...side.properties,
            // Allow-listed request headers for replay: kept, never indexed.
            headers: { type: 'object', enabled: false },
          },
        },
        response: side,
      },
    },
  },
} as const satisfies estypes.MappingTypeMapping;

export function sessionTemplate(prefix: string) {
  return {
    name: prefix,
    index_patterns: [`${prefix}-*`],
    priority: 200,
    template: {
      settings: {
        number_of_shards: 1,
        // One replica when there is a second node, none on a single node (stays green).
        auto_expand_replicas: '0-1',
        refresh_interval: '1s',
      },
      mappings: SESSION_MAPPINGS,
      aliases: { [prefix]: {} },
    },
    _meta: { managed_by: 'callguard', description: 'callguard session records' },
  } satisfies estypes.IndicesPutIndexTemplateRequest;
}

export async function installTemplate(
  es: Client,
  prefix: string,
  /** An existing index whose mapping cannot take the new fields (a type conflict). */
  onRefused: (index: string, reason: string) => void = () => {},
): Promise<void> {
  await es.indices.putIndexTemplate(sessionTemplate(prefix));
  // The template shapes new indices only; today's index may have been made by an earlier
  // version. Its strict mapping would refuse a field added since (to the dead-letter file
  // until the next day's index), so new fields are added to the existing indices too.
  // Index by index: one whose mapping conflicts (made by someone else) is reported and left
  // as it is; what it refuses goes to the dead-letter file, and the others still ship.
  const existing = await es.indices.getMapping({
    index: `${prefix}-*`,
    allow_no_indices: true,
    ignore_unavailable: true,
  });
  for (const index of Object.keys(existing)) {
    try {
      await es.indices.putMapping({ index, ...SESSION_MAPPINGS });
    } catch (e) {
      const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
      if (status !== 400) throw e;
      const type = (e as { body?: { error?: { type?: string } } }).body?.error?.type;
      onRefused(index, type ?? 'mapping refused');
    }
  }
}
