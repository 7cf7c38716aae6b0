// Tells reviewers a call is waiting: a webhook POST with a Slack-compatible body (`text` and
// `blocks`, so a Slack incoming webhook shows it as is) plus a `callguard` object for other
// receivers. The body names the call (route, function, requester, field paths, levels,
// detectors) and links to approve or reject; never a value, not even masked. It is signed:
// `x-callguard-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with the
// timestamp in `x-callguard-timestamp`, so a receiver can check it and refuse replays.
// Delivery retries with backoff in the background; a failure never touches the call path.

import { createHmac } from 'node:crypto';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { Ticket } from './ticket.js';

export interface WebhookOptions {
  url: string;
  /** HMAC key for the signature header (undefined: unsigned). */
  secret: Buffer | undefined;
  timeoutMs: number;
  /** Delays before each retry, in ms. */
  retryDelaysMs: number[];
}

export interface Links {
  status: string;
  approve: string;
  reject: string;
  page: string;
}

export function heldMessage(t: Ticket, links: Links): unknown {
  const what = `${t.function ? `\`${t.function}\` on ` : ''}route \`${t.route}\``;
  const text = `callguard: a call to ${what} by ${t.requester.subject} is held for approval (${t.hold.min_approvals} needed, expires ${t.expires_at})`;
  const findings = t.summary.findings.map((f) => ({
    path: f.path,
    level: f.level,
    ...(f.detector ? { detector: f.detector } : {}),
  }));
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text:
            findings
              .map((f) => `• \`${f.path}\` ${f.level}${f.detector ? ` (${f.detector})` : ''}`)
              .join('\n') || '(no findings)',
        },
      },
      {
        type: 'actions',
        elements: [
          { type: 'button', text: { type: 'plain_text', text: 'Review' }, url: links.page },
        ],
      },
    ],
    callguard: {
      event: 'approval.held',
      approval_id: t.id,
      route: t.route,
      function: t.function ?? null,
      requester: t.requester.subject,
      created_at: t.created_at,
      expires_at: t.expires_at,
      min_approvals: t.hold.min_approvals,
      approver_groups: t.hold.approvers,
      findings,
      links,
    },
  };
}

export function sign(secret: Buffer, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookNotifier {
  constructor(
    private readonly opts: WebhookOptions,
    private readonly log: Logger,
  ) {}

  /** Sends in the background; resolves when delivered or given up (tests may await it). */
  notify(message: unknown, approvalId: string): Promise<boolean> {
    const body = JSON.stringify(message);
    return this.deliver(body, approvalId).catch((e: unknown) => {
      this.log.error({ err: safeError(e), approval_id: approvalId }, 'webhook delivery failed');
      return false;
    });
  }

  private async deliver(body: string, approvalId: string): Promise<boolean> {
    const delays = [0, ...this.opts.retryDelaysMs];
    for (let attempt = 0; attempt < delays.length; attempt++) {
      if (delays[attempt]) await new Promise((r) => setTimeout(r, delays[attempt]));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-callguard-timestamp': timestamp,
        'x-callguard-approval-id': approvalId,
      };
      if (this.opts.secret)
        headers['x-callguard-signature'] = sign(this.opts.secret, timestamp, body);
      try {
        const r = await fetch(this.opts.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        await r.arrayBuffer();
        if (r.ok) return true;
        this.log.warn({ approval_id: approvalId, status: r.status, attempt }, 'webhook refused');
        if (r.status < 500 && r.status !== 429) return false;
      } catch (e) {
        this.log.warn(
          { approval_id: approvalId, attempt, err: safeError(e) },
          'webhook unreachable',
        );
      }
    }
    return false;
  }
}
