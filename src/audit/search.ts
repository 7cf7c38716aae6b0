// Searching session records: filters validated with an ajv schema, translated to query DSL
// objects (never strings), newest first, paged with search_after and an opaque cursor.

import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Client, estypes } from '@elastic/elasticsearch';
import { SESSION_DECISIONS } from './record.js';
import type { SessionDocument } from './record.js';

export interface SessionFilters {
  user?: string;
  from?: string;
  to?: string;
  level?: string;
  decision?: string;
  path?: string;
  function?: string;
  route?: string;
  /** A W3C trace id (trace.id): the sessions of one distributed trace. */
  trace?: string;
  /** Envoy's x-request-id (http.request.id). */
  request_id?: string;
  size?: number;
  cursor?: string;
}

const text = { type: 'string', minLength: 1, maxLength: 512 } as const;
const FILTER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: text,
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    level: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    decision: { enum: SESSION_DECISIONS },
    path: { type: 'string', pattern: '^(/|#)', maxLength: 1024 },
    function: text,
    route: text,
    trace: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    request_id: text,
    size: { type: 'integer', minimum: 1, maximum: 100 },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,512}$' },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: true });
// RFC 3339 date-time, checked here rather than through ajv-formats (one pattern, no dependency).
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/);
const validateFilters = ajv.compile(FILTER_SCHEMA);

export class FilterError extends Error {
  constructor(
    message: string,
    readonly problems: { field: string; problem: string }[],
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

/** Query-string parameters → validated filters (a FilterError names each bad field). */
export function parseFilters(params: URLSearchParams): SessionFilters {
  const raw: Record<string, string> = {};
  for (const [k, v] of params) {
    if (k in raw) throw new FilterError('bad filter', [{ field: k, problem: 'given twice' }]);
    raw[k] = v;
  }
  return checkFilters(raw);
}

export function checkFilters(raw: Record<string, unknown>): SessionFilters {
  const copy = { ...raw };
  if (!validateFilters(copy)) {
    throw new FilterError(
      'bad filter',
      (validateFilters.errors ?? []).map((e) => ({
        field:
          e.instancePath.slice(1) ||
          ((e.params as { additionalProperty?: string }).additionalProperty ?? ''),
        problem: e.keyword === 'additionalProperties' ? 'unknown filter' : (e.message ?? 'invalid'),
      })),
    );
  }
  const f = copy as SessionFilters;
  if (f.from && f.to && Date.parse(f.from) > Date.parse(f.to)) {
    throw new FilterError('bad filter', [{ field: 'from', problem: 'after to' }]);
  }
  if (f.cursor) decodeCursor(f.cursor);
  return f;
}

type Sort = [number, string];

export function encodeCursor(sort: unknown[]): string {
  return Buffer.from(JSON.stringify(sort)).toString('base64url');
}

export function decodeCursor(cursor: string): Sort {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'number' &&
      typeof v[1] === 'string'
    ) {
      return [v[0], v[1]];
    }
  } catch {
    // fall through
  }
  throw new FilterError('bad filter', [{ field: 'cursor', problem: 'not a cursor' }]);
}

type Query = estypes.QueryDslQueryContainer;

/** The filters as an Elasticsearch bool query. */
export function toQuery(f: SessionFilters): Query {
  const filter: Query[] = [];
  if (f.user) {
    filter.push({
      bool: {
        should: [{ term: { 'user.id': f.user } }, { term: { 'user.name': f.user } }],
        minimum_should_match: 1,
      },
    });
  }
  if (f.from || f.to) {
    const range: estypes.QueryDslDateRangeQuery = {};
    if (f.from) range.gte = f.from;
    if (f.to) range.lte = f.to;
    filter.push({ range: { '@timestamp': range } });
  }
  if (f.decision) filter.push({ term: { 'callguard.decision': f.decision } });
  if (f.function) filter.push({ term: { 'callguard.function': f.function } });
  if (f.route) filter.push({ term: { 'callguard.route': f.route } });
  if (f.trace) filter.push({ term: { 'trace.id': f.trace } });
  if (f.request_id) filter.push({ term: { 'http.request.id': f.request_id } });
  // level and path match the same finding.
  const finding: Query[] = [];
  if (f.level) finding.push({ term: { 'callguard.findings.level': f.level } });
  if (f.path) finding.push({ term: { 'callguard.findings.path': f.path } });
  if (finding.length > 0) {
    filter.push({ nested: { path: 'callguard.findings', query: { bool: { filter: finding } } } });
  }
  return { bool: { filter } };
}

export function fingerprintQuery(fingerprints: string[]): Query {
  return {
    nested: {
      path: 'callguard.findings',
      query: { terms: { 'callguard.findings.fingerprint': fingerprints } },
    },
  };
}

export interface Page {
  sessions: SessionDocument[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next: string | null;
}

export interface Histogram {
  interval: '1h';
  from: string;
  to: string;
  buckets: { start: string; total: number; decisions: Record<string, number> }[];
}

const BODY_FIELDS = ['callguard.request.body', 'callguard.response.body'];

export class SessionStore {
  constructor(
    private readonly es: Client,
    private readonly prefix: string,
  ) {}

  private get pattern(): string {
    return `${this.prefix}-*`;
  }

  /** A page of sessions (without bodies), newest first. */
  async page(query: Query, size = 20, cursor?: string): Promise<Page> {
    const res = await this.es.search<SessionDocument>({
      index: this.pattern,
      ignore_unavailable: true,
      allow_no_indices: true,
      query,
      size,
      sort: [{ '@timestamp': 'desc' }, { 'callguard.session_id': 'desc' }],
      ...(cursor ? { search_after: decodeCursor(cursor) } : {}),
      _source: { excludes: BODY_FIELDS },
      track_total_hits: false,
    });
    const hits = res.hits.hits;
    const last = hits.at(-1);
    return {
      sessions: hits.map((h) => h._source as SessionDocument),
      next: hits.length === size && last?.sort ? encodeCursor(last.sort) : null,
    };
  }

  search(f: SessionFilters): Promise<Page> {
    return this.page(toQuery(f), f.size ?? 20, f.cursor);
  }

  /**
   * Calls per hour by decision over the filters' range (default: the last 24 hours), for
   * the page's chart: an Elasticsearch date_histogram with a terms sub-aggregation.
   */
  async histogram(f: SessionFilters, now = Date.now()): Promise<Histogram> {
    const to = f.to ?? new Date(now).toISOString();
    const from = f.from ?? new Date(Date.parse(to) - 24 * 3_600_000).toISOString();
    if (Date.parse(to) - Date.parse(from) > 31 * 24 * 3_600_000) {
      throw new FilterError('bad filter', [{ field: 'from', problem: 'range over 31 days' }]);
    }
    // Paging does not apply to an aggregation.
    const filters: SessionFilters = { ...f };
    delete filters.size;
    delete filters.cursor;
    const res = await this.es.search({
      index: this.pattern,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 0,
      query: toQuery({ ...filters, from, to }),
      aggs: {
        hours: {
          date_histogram: {
            field: '@timestamp',
            fixed_interval: '1h',
            min_doc_count: 0,
            extended_bounds: { min: from, max: to },
          },
          aggs: { decisions: { terms: { field: 'callguard.decision', size: 16 } } },
        },
      },
    });
    interface Bucket {
      key: number;
      doc_count: number;
      decisions: { buckets: { key: string; doc_count: number }[] };
    }
    const hours = (res.aggregations?.hours as { buckets?: Bucket[] } | undefined)?.buckets ?? [];
    return {
      interval: '1h',
      from,
      to,
      buckets: hours.map((b) => ({
        start: new Date(b.key).toISOString(),
        total: b.doc_count,
        decisions: Object.fromEntries(b.decisions.buckets.map((d) => [d.key, d.doc_count])),
      })),
    };
  }

  /** The whole record, or undefined. */
  async get(id: string): Promise<SessionDocument | undefined> {
    const res = await this.es.search<SessionDocument>({
      index: this.pattern,
      ignore_unavailable: true,
      allow_no_indices: true,
      query: { ids: { values: [id] } },
      size: 1,
    });
    return res.hits.hits[0]?._source;
  }
}
