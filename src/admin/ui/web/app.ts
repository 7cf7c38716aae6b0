// The admin page's script (browser; compiled by tsconfig.ui.json to dist/admin/ui/web/).
// It calls the admin APIs with the session cookie; state-changing calls carry the session's
// CSRF token. Everything is built with DOM calls and textContent: no HTML strings, so no
// value from a record can become markup.

interface Me {
  subject: string;
  name?: string;
  email?: string;
  groups: string[];
  csrf_token: string;
  auditor: boolean;
}

type Json = Record<string, unknown>;

export {};

let me: Me | undefined;

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== undefined) e.append(c);
  return e;
}

function status(text: string): void {
  $('status').textContent = text;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api(path: string, body?: unknown): Promise<Json> {
  const init: RequestInit = { credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers = {
      accept: 'application/json',
      'content-type': 'application/json',
      'x-csrf-token': me?.csrf_token ?? '',
    };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const json = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok) {
    const err = (json.error ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, err.code ?? 'error', err.message ?? `HTTP ${res.status}`);
  }
  return json;
}

function show(...nodes: Node[]): void {
  const main = $('main');
  main.replaceChildren(...nodes);
}

function errorView(e: unknown): HTMLElement {
  const msg =
    e instanceof ApiError
      ? e.status === 403
        ? `Not allowed: ${e.message}.`
        : `${e.message} (${e.code}).`
      : String(e);
  return el('p', { class: 'error', role: 'alert' }, msg);
}

// Record fields shown as text; an object (never expected) as its JSON, not "[object Object]".
function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '';
}

function table(headers: string[], rows: (Node | string)[][], caption: string): HTMLElement {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      {},
      el('caption', { class: 'visually-hidden' }, caption),
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
    ),
  );
}

// --- sign-in and navigation -----------------------------------------------------------------

function header(): void {
  const nav = $('nav');
  const who = $('who');
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  nav.replaceChildren(
    ...(me.auditor ? [el('a', { href: '#/sessions' }, 'Sessions')] : []),
    el('a', { href: '#/approvals' }, 'Approvals'),
  );
  const out = el('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => {
    void api('/ui/logout', {})
      .catch(() => undefined)
      .then(() => {
        me = undefined;
        location.hash = '';
        void start();
      });
  });
  who.replaceChildren(el('span', { id: 'user' }, me.name ?? me.email ?? me.subject), out);
}

function signInView(): void {
  show(
    el('h1', {}, 'Sign in'),
    el('p', {}, 'Auditors search session records; reviewers decide held calls.'),
    el(
      'p',
      {},
      el(
        'a',
        { href: '/ui/login', id: 'sign-in', class: 'button' },
        'Sign in with your identity provider',
      ),
    ),
  );
}

// --- sessions ----------------------------------------------------------------------------------

// SESSION_DECISIONS of src/audit/record.ts (this script is built alone, without imports).
const DECISIONS = [
  'allowed',
  'modified',
  'public',
  'blocked',
  'held',
  'overloaded',
  'denied',
  'error',
  'aborted',
  'envoy_reply',
];

function field(
  label: string,
  name: string,
  input: HTMLInputElement | HTMLSelectElement,
  value: string,
): HTMLElement {
  input.name = name;
  input.id = `f-${name}`;
  input.value = value;
  return el('label', { for: input.id }, label, input);
}

function toIso(local: string): string {
  return local ? new Date(local).toISOString() : '';
}

function toLocal(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function sessionsView(params: URLSearchParams): Promise<void> {
  const text = (type = 'text') => {
    const i = el('input', { type });
    return i;
  };
  const decision = el('select', {}, el('option', { value: '' }, 'any'));
  for (const d of DECISIONS) decision.append(el('option', { value: d }, d));
  const form = el(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Session filters' },
    field('User', 'user', text(), params.get('user') ?? ''),
    field('From', 'from', text('datetime-local'), toLocal(params.get('from') ?? '')),
    field('To', 'to', text('datetime-local'), toLocal(params.get('to') ?? '')),
    field('Level', 'level', text(), params.get('level') ?? ''),
    field('Decision', 'decision', decision, params.get('decision') ?? ''),
    field('Function', 'function', text(), params.get('function') ?? ''),
    field('Field path', 'path', text(), params.get('path') ?? ''),
    field('Value (fingerprint search)', 'value', text('search'), ''),
    el('button', { type: 'submit' }, 'Search'),
  );
  const results = el('section', { 'aria-label': 'Results' });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const value = str(data.get('value'));
    const q = new URLSearchParams();
    for (const k of ['user', 'level', 'decision', 'function', 'path']) {
      const v = str(data.get(k)).trim();
      if (v) q.set(k, v);
    }
    for (const k of ['from', 'to']) {
      const v = toIso(str(data.get(k)));
      if (v) q.set(k, v);
    }
    // The value never goes into the URL or history: it is POSTed.
    if (value) void runValueSearch(value, results);
    else if (location.hash === `#/sessions?${q}`) void runSearch(q, results);
    else location.hash = `#/sessions?${q}`;
  });
  show(el('h1', {}, 'Sessions'), form, results);
  await runSearch(params, results);
}

async function runSearch(q: URLSearchParams, out: HTMLElement): Promise<void> {
  out.replaceChildren(el('p', {}, 'Searching…'));
  try {
    const [page, hist] = await Promise.all([
      api(`/api/sessions?${q}`),
      api(`/api/sessions/histogram?${q}`),
    ]);
    const more = (cursor: string) => {
      const next = new URLSearchParams(q);
      next.set('cursor', cursor);
      return api(`/api/sessions?${next}`);
    };
    out.replaceChildren(chart(hist), ...results(page, more));
  } catch (e) {
    out.replaceChildren(errorView(e));
  }
}

async function runValueSearch(value: string, out: HTMLElement): Promise<void> {
  out.replaceChildren(el('p', {}, 'Searching by value…'));
  try {
    const page = await api('/api/sessions/search-by-value', { value });
    const more = (cursor: string) => api('/api/sessions/search-by-value', { value, cursor });
    out.replaceChildren(
      el('p', {}, 'Sessions in which this value was found:'),
      ...results(page, more),
    );
  } catch (e) {
    out.replaceChildren(errorView(e));
  }
}

/** A page of sessions as a table; "More sessions" appends the next page in place. */
function results(page: Json, more: (cursor: string) => Promise<Json>): Node[] {
  const sessions = (page.sessions ?? []) as Json[];
  if (sessions.length === 0) return [el('p', { id: 'no-results' }, 'No sessions match.')];
  const rows = sessions.map((s) => {
    const cg = s.callguard as Json;
    const user = s.user as Json;
    const id = str(cg.session_id);
    return [
      new Date(str(s['@timestamp'])).toLocaleString(),
      str(user.id),
      str(cg.function ?? cg.route),
      str(cg.decision),
      str(cg.max_level),
      String(((cg.findings ?? []) as unknown[]).length),
      el(
        'a',
        { href: `#/sessions/${encodeURIComponent(id)}`, 'aria-label': `Open session ${id}` },
        'Open',
      ),
    ];
  });
  const out: Node[] = [
    table(
      ['Time', 'User', 'Function', 'Decision', 'Max level', 'Findings', ''],
      rows,
      'Matching sessions',
    ),
  ];
  const cursor = page.next;
  if (typeof cursor === 'string') {
    const holder = el('div', {});
    const button = el('button', { type: 'button', class: 'secondary' }, 'More sessions');
    button.addEventListener('click', () => {
      button.disabled = true;
      void more(cursor).then(
        (p) => holder.replaceWith(...results(p, more)),
        (e: unknown) => holder.replaceChildren(errorView(e)),
      );
    });
    holder.append(button);
    out.push(holder);
  }
  return out;
}

const SVG = 'http://www.w3.org/2000/svg';

function chart(h: Json): HTMLElement {
  const buckets = (h.buckets ?? []) as {
    start: string;
    total: number;
    decisions: Record<string, number>;
  }[];
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const w = 1000;
  const ht = 120;
  const bw = w / Math.max(1, buckets.length);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const total = buckets.reduce((n, b) => n + b.total, 0);
  svg.setAttribute(
    'aria-label',
    `Calls per hour by decision: ${total} calls in ${buckets.length} hours`,
  );
  buckets.forEach((b, i) => {
    let y = ht;
    for (const d of DECISIONS) {
      const n = b.decisions[d] ?? 0;
      if (!n) continue;
      const hgt = (n / max) * (ht - 4);
      y -= hgt;
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', String(i * bw + bw * 0.1));
      r.setAttribute('y', String(y));
      r.setAttribute('width', String(bw * 0.8));
      r.setAttribute('height', String(hgt));
      r.setAttribute('class', `bar d-${d}`);
      const t = document.createElementNS(SVG, 'title');
      t.textContent = `${new Date(b.start).toLocaleString()}: ${n} ${d}`;
      r.append(t);
      svg.append(r);
    }
  });
  const legend = el(
    'div',
    { class: 'legend' },
    ...DECISIONS.map((d) => el('span', {}, el('span', { class: `sw d-${d}` }), d)),
  );
  return el(
    'figure',
    { id: 'chart' },
    el('figcaption', {}, 'Calls per hour by decision'),
    svg as unknown as Node,
    legend,
  );
}

/** Where each scalar value of a JSON document sits in its text, by JSON Pointer. */
function valueSpans(text: string): Map<string, [number, number]> | undefined {
  const out = new Map<string, [number, number]>();
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++;
  };
  const pointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
  const str = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (let n = 0; i < text.length; n++) {
        if (c === '{') {
          ws();
          const key = str();
          ws();
          i++; // the colon
          value(`${path}/${pointer(key)}`);
        } else value(`${path}/${n}`);
        ws();
        if (text[i++] !== ',') return;
      }
      return;
    }
    const start = i;
    if (c === '"') {
      str();
      out.set(path, [start + 1, i - 1]);
      return;
    }
    while (i < text.length && !',]} \t\r\n'.includes(text[i] as string)) i++;
    out.set(path, [start, i]);
  };
  try {
    value('');
    return out;
  } catch {
    return undefined; // not JSON (or truncated): the patterns below still mark masks
  }
}

// A redaction placeholder, a token, a whole JSON string value holding a `*` mask (format
// kept: `**** **** **** 4242`), or a bare run of `*` (e.g. inside escaped JSON-in-a-string).
const MASK =
  /\[REDACTED:[^\]"\\]*\]|tok_[A-Za-z0-9_-]+|(?<=")[^"\\]*\*{3,}[^"\\]*(?=")|\*{3,}[^\s"'\\,}\]]*/g;

/**
 * The body text with the masked spans in <mark>: first the values at the findings' paths
 * (exact, titled with path, level and action), then anything that looks masked elsewhere
 * (values inside JSON-in-a-string, free text).
 */
function highlighted(text: string, findings: Json[]): HTMLElement {
  const spans: { start: number; end: number; title: string; cls: string }[] = [];
  const at = valueSpans(text);
  for (const f of findings) {
    const span = at?.get(str(f.path));
    if (span && span[1] > span[0]) {
      spans.push({
        start: span[0],
        end: span[1],
        title: `${str(f.path)}: ${str(f.level)}, ${str(f.action)} (rule ${str(f.rule)})`,
        // A value a rule let through is found, not masked.
        cls: f.action === 'allow' ? 'found' : 'masked',
      });
    }
  }
  const overlaps = (s: number, e: number) => spans.some((x) => s < x.end && x.start < e);
  for (const m of text.matchAll(MASK)) {
    const s0 = m.index ?? 0;
    const e0 = s0 + m[0].length;
    if (!overlaps(s0, e0))
      spans.push({ start: s0, end: e0, title: 'masked by callguard', cls: 'masked' });
  }
  spans.sort((a, b) => a.start - b.start);
  const pre = el('pre', {});
  let last = 0;
  for (const sp of spans) {
    if (sp.start < last) continue;
    pre.append(
      text.slice(last, sp.start),
      el('mark', { class: sp.cls, title: sp.title }, text.slice(sp.start, sp.end)),
    );
    last = sp.end;
  }
  pre.append(text.slice(last));
  return pre;
}

function side(title: string, s: Json | undefined, findings: Json[]): HTMLElement[] {
  if (!s) return [];
  const out: HTMLElement[] = [el('h2', {}, title)];
  if (typeof s.body === 'string') out.push(highlighted(s.body, findings));
  else if (s.body_withheld) out.push(el('p', {}, `Body withheld: ${str(s.body_withheld)}`));
  else out.push(el('p', {}, 'No body recorded.'));
  if (s.body_truncated) out.push(el('p', {}, `Truncated (${str(s.body_bytes)} bytes forwarded).`));
  return out;
}

async function sessionView(id: string): Promise<void> {
  show(el('p', {}, 'Loading…'));
  let doc: Json;
  try {
    doc = await api(`/api/sessions/${encodeURIComponent(id)}`);
  } catch (e) {
    show(errorView(e));
    return;
  }
  const cg = doc.callguard as Json;
  const user = doc.user as Json;
  const req = cg.request as Json | undefined;
  const resp = cg.response as Json | undefined;
  const trace = [
    ...((req?.trace ?? []) as string[]).map((t) => `request: ${t}`),
    ...((resp?.trace ?? []) as string[]).map((t) => `response: ${t}`),
  ];
  const err = cg.error as Json | undefined;
  const facts = el(
    'dl',
    { class: 'facts' },
    el('dt', {}, 'User'),
    el('dd', { id: 'principal' }, `${str(user.id)}${user.email ? ` <${str(user.email)}>` : ''}`),
    el('dt', {}, 'Groups'),
    el('dd', {}, ((user.roles ?? []) as string[]).join(', ')),
    el('dt', {}, 'Identity'),
    el('dd', {}, `${str(cg.auth_method)} ${str(cg.issuer)}`),
    el('dt', {}, 'Time'),
    el('dd', {}, new Date(str(doc['@timestamp'])).toLocaleString()),
    el('dt', {}, 'Call'),
    el(
      'dd',
      {},
      `${str((doc.http as Json | undefined)?.request && ((doc.http as Json).request as Json).method)} ${str((doc.url as Json | undefined)?.path)}`,
    ),
    el('dt', {}, 'Route / function'),
    el('dd', {}, `${str(cg.route)} / ${str(cg.function)}`),
    el('dt', {}, 'Decision'),
    el('dd', { id: 'decision' }, `${str(cg.decision)}${err ? ` (${str(err.code)})` : ''}`),
    el('dt', {}, 'Max level'),
    el('dd', {}, str(cg.max_level)),
    el('dt', {}, 'Approval'),
    el('dd', {}, str(cg.approval_id)),
  );
  const allFindings = (cg.findings ?? []) as Json[];
  const findings = allFindings.map((f) => [
    str(f.direction),
    el('code', {}, str(f.path)),
    str(f.level),
    str(f.detector ?? f.source),
    str(f.action),
    str(f.rule),
  ]);
  const replayOut = el('div', { id: 'replay' });
  const replay = el(
    'button',
    { type: 'button', id: 'replay-button', class: 'secondary' },
    'Show replay (curl)',
  );
  replay.addEventListener('click', () => {
    void api(`/api/sessions/${encodeURIComponent(id)}/replay`).then(
      (r) => replayOut.replaceChildren(el('pre', {}, el('code', {}, str(r.curl)))),
      (e: unknown) => replayOut.replaceChildren(errorView(e)),
    );
  });
  show(
    el('p', {}, el('a', { href: '#/sessions' }, '← Sessions')),
    el('h1', {}, `Session ${id}`),
    facts,
    el('h2', {}, 'Rule trace'),
    trace.length
      ? el('ol', { id: 'trace' }, ...trace.map((t) => el('li', {}, t)))
      : el('p', {}, 'No rules applied.'),
    el('h2', {}, 'Findings'),
    findings.length
      ? table(['Direction', 'Path', 'Level', 'Detector', 'Action', 'Rule'], findings, 'Findings')
      : el('p', {}, 'No findings.'),
    ...side(
      'Request body as forwarded',
      req,
      allFindings.filter((f) => f.direction === 'request'),
    ),
    ...side(
      'Response body as forwarded',
      resp,
      allFindings.filter((f) => f.direction === 'response'),
    ),
    replay,
    replayOut,
  );
}

// --- approvals ---------------------------------------------------------------------------------

function ticketCard(t: Json, reload: () => void): HTMLElement {
  const id = str(t.id);
  const s = t.summary as Json;
  const requester = t.requester as Json;
  const reason = el('textarea', {
    id: `reason-${id}`,
    name: 'reason',
    rows: '2',
    maxlength: '500',
  });
  const decide = (verb: 'approve' | 'reject') => {
    void api(`/api/approvals/${encodeURIComponent(id)}/${verb}`, { reason: reason.value }).then(
      (r) => {
        status(
          `${id}: ${verb === 'approve' ? 'approval recorded' : 'rejected'}, now ${str(r.state)}`,
        );
        reload();
      },
      (e: unknown) => status(`${id}: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  const approve = el('button', { type: 'button', class: 'approve' }, 'Approve');
  approve.addEventListener('click', () => decide('approve'));
  const reject = el('button', { type: 'button', class: 'reject danger' }, 'Reject');
  reject.addEventListener('click', () => decide('reject'));
  const findings = ((s.findings ?? []) as Json[]).map((f) => [
    el('code', {}, str(f.path)),
    str(f.level),
    str(f.detector ?? ''),
    el('code', {}, str(f.masked)),
  ]);
  const hold = t.hold as Json;
  return el(
    'article',
    { class: 'card ticket', 'data-id': id, 'aria-label': `Ticket ${id}` },
    el('h2', {}, `${str(s.method)} ${str(s.path)}`),
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, 'Ticket'),
      el('dd', {}, id),
      el('dt', {}, 'Requester'),
      el(
        'dd',
        {},
        `${str(requester.subject)} (${((requester.groups ?? []) as string[]).join(', ')})`,
      ),
      el('dt', {}, 'Route / function'),
      el('dd', {}, `${str(t.route)} / ${str(t.function)}`),
      el('dt', {}, 'Held'),
      el('dd', {}, new Date(str(t.created_at)).toLocaleString()),
      el('dt', {}, 'Expires'),
      el('dd', {}, new Date(str(t.expires_at)).toLocaleString()),
      el('dt', {}, 'Approvals'),
      el('dd', {}, `${((t.approvals ?? []) as unknown[]).length} of ${str(hold.min_approvals)}`),
    ),
    table(['Path', 'Level', 'Detector', 'Value (masked)'], findings, 'Held values'),
    el(
      'div',
      { class: 'actions' },
      el('label', { for: reason.id }, 'Reason', reason),
      approve,
      reject,
    ),
  );
}

async function approvalsView(): Promise<void> {
  const pending = el('section', { id: 'pending', 'aria-label': 'Pending approvals' });
  const history = el('section', { id: 'history', 'aria-label': 'Decided approvals' });
  show(
    el('h1', {}, 'Approvals'),
    el('h2', {}, 'Pending'),
    pending,
    el('h2', {}, 'History'),
    history,
  );
  const load = async () => {
    try {
      const [p, all] = await Promise.all([
        api('/api/approvals?state=pending'),
        api('/api/approvals?size=100'),
      ]);
      const tickets = (p.approvals ?? []) as Json[];
      pending.replaceChildren(
        ...(tickets.length
          ? tickets.map((t) => ticketCard(t, () => void load()))
          : [el('p', { id: 'no-pending' }, 'Nothing is waiting for you.')]),
      );
      const done = ((all.approvals ?? []) as Json[]).filter((t) => t.state !== 'pending');
      history.replaceChildren(
        done.length
          ? table(
              ['Ticket', 'Call', 'Requester', 'State', 'Reviewed by', 'Reason'],
              done.map((t) => {
                const reviews = [
                  ...((t.approvals ?? []) as Json[]),
                  ...(t.rejection ? [t.rejection as Json] : []),
                ];
                return [
                  str(t.id),
                  `${str((t.summary as Json).method)} ${str((t.summary as Json).path)}`,
                  str((t.requester as Json).subject),
                  str(t.state),
                  reviews.map((r) => str(r.reviewer)).join(', '),
                  reviews
                    .map((r) => str(r.reason))
                    .filter(Boolean)
                    .join('; '),
                ];
              }),
              'Decided approvals',
            )
          : el('p', {}, 'No decided tickets yet.'),
      );
    } catch (e) {
      pending.replaceChildren(errorView(e));
    }
  };
  await load();
}

// --- router ------------------------------------------------------------------------------------

async function route(): Promise<void> {
  if (!me) return;
  const hash = location.hash.replace(/^#/, '');
  const [path = '', query = ''] = hash.split('?');
  status('');
  const m = /^\/sessions\/([A-Za-z0-9-]{1,64})$/.exec(path);
  if (m) await sessionView(m[1] as string);
  else if (path === '/approvals' || (!me.auditor && path === '')) await approvalsView();
  else if (path === '/sessions' || path === '') await sessionsView(new URLSearchParams(query));
  else show(el('p', {}, 'No such page.'));
  $('main').focus();
}

async function start(): Promise<void> {
  try {
    me = (await api('/ui/me')) as unknown as Me;
  } catch {
    me = undefined;
  }
  header();
  if (!me) signInView();
  else await route();
}

window.addEventListener('hashchange', () => void route());
void start();
