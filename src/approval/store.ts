// Tickets in Elasticsearch, one document per ticket in an index of their own with an explicit
// mapping. Every transition is a read-modify-write guarded by `if_seq_no`/`if_primary_term`:
// a replica or reviewer that loses a race re-reads and re-applies its transition, which then
// sees the other's result (a second approval by the same reviewer, a second use, a decision
// on a ticket no longer pending are refused by the state machine, never lost or doubled).

import { errors } from '@elastic/elasticsearch';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { Ticket, TicketState } from './ticket.js';

const keyword = { type: 'keyword' } as const;
const date = { type: 'date' } as const;
const stored = { type: 'keyword', index: false, doc_values: false } as const;
const review = {
  properties: { reviewer: keyword, at: date, reason: stored, break_glass: { type: 'boolean' } },
} as const;

/** dynamic: strict, so a ticket field the code forgets to map is an error, not a guess. */
export const TICKET_MAPPING = {
  dynamic: 'strict',
  properties: {
    id: keyword,
    state: keyword,
    created_at: date,
    expires_at: date,
    requester: {
      properties: {
        subject: keyword,
        issuer: keyword,
        email: keyword,
        name: keyword,
        groups: keyword,
        auth_method: keyword,
      },
    },
    route: keyword,
    function: keyword,
    payload_sha256: keyword,
    session_id: keyword,
    hold: {
      properties: { approvers: keyword, min_approvals: { type: 'integer' }, break_glass: keyword },
    },
    summary: {
      properties: {
        method: keyword,
        path: keyword,
        findings: {
          type: 'nested',
          properties: {
            path: keyword,
            level: keyword,
            detector: keyword,
            action: keyword,
            rule: keyword,
            masked: stored,
          },
        },
      },
    },
    approvals: { type: 'nested', ...review },
    rejection: review,
    used: { properties: { at: date, session_id: keyword } },
    events: {
      type: 'nested',
      properties: { at: date, type: keyword, by: keyword, reason: stored, session_id: keyword },
    },
  },
} as const;

export interface Versioned {
  ticket: Ticket;
  seqNo: number;
  primaryTerm: number;
}

export class ConflictError extends Error {
  constructor() {
    super('the ticket changed meanwhile');
    this.name = 'ConflictError';
  }
}

export interface TicketQuery {
  state?: TicketState | undefined;
  route?: string | undefined;
  function?: string | undefined;
  requester?: string | undefined;
  /** Only tickets one of these groups may review (approvers or break-glass). */
  reviewableBy?: string[] | undefined;
  size: number;
  /** From a previous page: `search_after` values, opaque to clients. */
  cursor?: string | undefined;
}

export interface TicketPage {
  tickets: Ticket[];
  cursor: string | null;
}

export class TicketStore {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    readonly index: string,
  ) {}

  /**
   * The index exists with its mapping: made on first use, and tried again after a failure,
   * so callguard starts (and serves everything else) while Elasticsearch is down.
   */
  ensure(): Promise<void> {
    this.ready ??= this.ensureIndex().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** Creates the index with its mapping, unless it exists. */
  private async ensureIndex(): Promise<void> {
    try {
      await this.client.indices.create({
        index: this.index,
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: TICKET_MAPPING,
      });
    } catch (e) {
      if (
        e instanceof errors.ResponseError &&
        // The client types a response body as any; an error's is Elasticsearch's error body.
        (e.body as estypes.ErrorResponseBase | undefined)?.error?.type ===
          'resource_already_exists_exception'
      )
        return;
      throw e;
    }
  }

  async create(t: Ticket): Promise<void> {
    await this.ensure();
    // wait_for: a reviewer listing right after the hold sees the ticket.
    await this.client.create({ index: this.index, id: t.id, document: t, refresh: 'wait_for' });
  }

  async get(id: string): Promise<Versioned | undefined> {
    await this.ensure();
    try {
      const r = await this.client.get<Ticket>({ index: this.index, id });
      if (!r.found || !r._source) return undefined;
      return {
        ticket: r._source,
        seqNo: r._seq_no as number,
        primaryTerm: r._primary_term as number,
      };
    } catch (e) {
      if (e instanceof errors.ResponseError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  /** Writes `next` only if the ticket is still the version read; ConflictError if not. */
  async replace(v: Versioned, next: Ticket): Promise<Versioned> {
    try {
      const r = await this.client.index({
        index: this.index,
        id: next.id,
        document: next,
        if_seq_no: v.seqNo,
        if_primary_term: v.primaryTerm,
        refresh: 'wait_for',
      });
      return { ticket: next, seqNo: r._seq_no as number, primaryTerm: r._primary_term as number };
    } catch (e) {
      if (e instanceof errors.ResponseError && e.statusCode === 409) throw new ConflictError();
      throw e;
    }
  }

  /**
   * Applies `transition` to the current version, retrying on a lost race (re-reading first).
   * Returns undefined for an unknown ticket; the transition's own errors pass through.
   */
  async update(
    id: string,
    transition: (t: Ticket) => Ticket,
    attempts = 8,
  ): Promise<Ticket | undefined> {
    for (let i = 0; ; i++) {
      const v = await this.get(id);
      if (!v) return undefined;
      const next = transition(v.ticket);
      if (next === v.ticket) return next;
      try {
        return (await this.replace(v, next)).ticket;
      } catch (e) {
        if (!(e instanceof ConflictError) || i + 1 >= attempts) throw e;
      }
    }
  }

  async list(q: TicketQuery): Promise<TicketPage> {
    await this.ensure();
    const filter: object[] = [];
    if (q.state) filter.push({ term: { state: q.state } });
    if (q.route) filter.push({ term: { route: q.route } });
    if (q.function) filter.push({ term: { function: q.function } });
    if (q.requester) filter.push({ term: { 'requester.subject': q.requester } });
    if (q.reviewableBy) {
      filter.push({
        bool: {
          should: [
            { terms: { 'hold.approvers': q.reviewableBy } },
            { terms: { 'hold.break_glass': q.reviewableBy } },
          ],
          minimum_should_match: 1,
        },
      });
    }
    const r = await this.client.search<Ticket>({
      index: this.index,
      size: q.size,
      query: { bool: { filter } },
      sort: [{ created_at: 'desc' }, { id: 'desc' }],
      ...(q.cursor ? { search_after: decodeCursor(q.cursor) } : {}),
    });
    const hits = r.hits.hits;
    const tickets = hits.flatMap((h) => (h._source ? [h._source] : []));
    const last = hits[hits.length - 1];
    return {
      tickets,
      cursor:
        hits.length === q.size && last?.sort
          ? Buffer.from(JSON.stringify(last.sort)).toString('base64url')
          : null,
    };
  }

  /** Ids of pending or approved tickets past their expiry (for the sweeper). */
  async dueForExpiry(now: number, size = 100): Promise<string[]> {
    await this.ensure();
    const r = await this.client.search<Ticket>({
      index: this.index,
      size,
      query: {
        bool: {
          filter: [
            { terms: { state: ['pending', 'approved'] } },
            { range: { expires_at: { lte: new Date(now).toISOString() } } },
          ],
        },
      },
      _source: ['id'],
    });
    return r.hits.hits.map((h) => h._id as string);
  }

  /** Pending tickets (a gauge for /metrics). */
  async countPending(): Promise<number> {
    await this.ensure();
    const r = await this.client.count({ index: this.index, query: { term: { state: 'pending' } } });
    return r.count;
  }
}

export class CursorError extends Error {}

function decodeCursor(c: string): (string | number)[] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      v.every((x) => typeof x === 'string' || typeof x === 'number')
    ) {
      return v;
    }
  } catch {
    // fall through
  }
  throw new CursorError('not a cursor from this API');
}
