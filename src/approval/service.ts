// The approval path: hold a call (ticket + notification), let the caller wait in line or come
// back with `x-callguard-approval`, and let reviewers decide. State lives in Elasticsearch
// (TicketStore) only, so any replica serves any step and a restart loses nothing.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { Principal } from '../policy/types.js';
import type { WebhookNotifier, Links } from './notify.js';
import { heldMessage } from './notify.js';
import type { TicketPage, TicketQuery, TicketStore } from './store.js';
import {
  approve,
  ApprovalError,
  effectiveState,
  expire,
  newTicket,
  redeem,
  reject,
} from './ticket.js';
import type { NewTicket, RedeemContext, Ticket } from './ticket.js';

export interface ApprovalOptions {
  store: TicketStore;
  log: Logger;
  notifier?: WebhookNotifier | undefined;
  /** Base URL of the admin server as reviewers and callers reach it. */
  publicUrl: string;
  /** How often a waiting request looks at its ticket. */
  pollMs?: number;
  now?: () => number;
  newId?: () => string;
}

/** A held call, as the exchange knows it: a new ticket without its id and time. */
export type HoldRequest = Omit<NewTicket, 'id' | 'now' | 'requester'> & { principal: Principal };

export class ApprovalService {
  private readonly now: () => number;
  private readonly newId: () => string;
  private sweeper: NodeJS.Timeout | undefined;
  /** Deliveries in flight (tests and shutdown can wait for them). */
  readonly deliveries = new Set<Promise<boolean>>();

  constructor(private readonly o: ApprovalOptions) {
    this.now = o.now ?? Date.now;
    this.newId = o.newId ?? (() => `apr_${randomUUID()}`);
  }

  links(id: string): Links {
    const base = this.o.publicUrl.replace(/\/$/, '');
    return {
      status: `${base}/api/approvals/${id}`,
      approve: `${base}/api/approvals/${id}/approve`,
      reject: `${base}/api/approvals/${id}/reject`,
      page: `${base}/#/approvals/${id}`,
    };
  }

  async hold(r: HoldRequest): Promise<Ticket> {
    const { principal, ...call } = r;
    const ticket = newTicket({ ...call, id: this.newId(), now: this.now(), requester: principal });
    await this.o.store.create(ticket);
    if (this.o.notifier) {
      const d = this.o.notifier.notify(heldMessage(ticket, this.links(ticket.id)), ticket.id);
      this.deliveries.add(d);
      void d.finally(() => this.deliveries.delete(d));
    }
    return ticket;
  }

  /** The ticket as of now (expiry applied on read), or undefined. */
  async get(id: string): Promise<Ticket | undefined> {
    const v = await this.o.store.get(id);
    return v ? view(v.ticket, this.now()) : undefined;
  }

  async list(q: TicketQuery): Promise<TicketPage> {
    const page = await this.o.store.list(q);
    const now = this.now();
    return { ...page, tickets: page.tickets.map((t) => view(t, now)) };
  }

  /**
   * Waits up to `ms` for the ticket to leave pending; returns it as it then is. Polls the
   * store, first every `pollMs` then backing off to a second, so many waiting requests cost
   * Elasticsearch about one get per second each.
   */
  async waitForDecision(id: string, ms: number, signal?: AbortSignal): Promise<Ticket | undefined> {
    const until = this.now() + ms;
    let poll = this.o.pollMs ?? 200;
    for (;;) {
      const t = await this.get(id);
      if (!t || t.state !== 'pending' || this.now() >= until || signal?.aborted) return t;
      await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(0, until - this.now()))));
      poll = Math.min(1000, Math.round(poll * 1.5));
    }
  }

  /** Tickets waiting for a review (a gauge). */
  countPending(): Promise<number> {
    return this.o.store.countPending();
  }

  /** Uses the approval for exactly this call; ApprovalError (with its code) otherwise. */
  async redeem(id: string, c: RedeemContext): Promise<Ticket> {
    const t = await this.o.store.update(id, (t) => redeem(expire(t, this.now()), c, this.now()));
    if (!t) throw new ApprovalError('approval_unknown', 'no such approval');
    return t;
  }

  async approve(id: string, reviewer: Principal, reason?: string): Promise<Ticket | undefined> {
    return this.o.store.update(id, (t) =>
      approve(expire(t, this.now()), reviewer, this.now(), reason),
    );
  }

  async reject(id: string, reviewer: Principal, reason?: string): Promise<Ticket | undefined> {
    return this.o.store.update(id, (t) =>
      reject(expire(t, this.now()), reviewer, this.now(), reason),
    );
  }

  /** Records the expiry of tickets past due, every `everyMs` (expiry is also applied on read). */
  startSweeper(everyMs: number): void {
    const sweep = async () => {
      try {
        for (const id of await this.o.store.dueForExpiry(this.now())) {
          await this.o.store.update(id, (t) => expire(t, this.now()));
        }
      } catch (e) {
        this.o.log.warn({ err: safeError(e) }, 'approval sweep failed');
      }
    };
    this.sweeper = setInterval(() => void sweep(), everyMs);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}

/** A ticket as of `now`: expiry shown even before the sweeper records it. */
function view(t: Ticket, now: number): Ticket {
  const s = effectiveState(t, now);
  return s === t.state ? t : { ...t, state: s };
}
