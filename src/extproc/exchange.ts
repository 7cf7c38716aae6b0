// One HTTP exchange as Envoy shows it to callguard: a state machine over the ext_proc
// phases. It dispatches on the message type (response headers may arrive before the
// request body is complete), answers each message exactly once, and builds the session
// record in one place, at the end, whatever path the exchange took.

import { randomUUID } from 'node:crypto';
import { CallguardError, errorBody } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { inspect } from '../engine.js';
import { StreamInspector } from '../streaming.js';
import { payloadHash } from '../approval/canonical.js';
import type { ApprovalService } from '../approval/service.js';
import { ApprovalError } from '../approval/ticket.js';
import type { ApprovalSummary, Ticket } from '../approval/ticket.js';
import { parseJson } from '../payload/json.js';
import type { CompiledPolicy, FunctionPlan, RoutePlan } from '../policy/compile.js';
import { selectRoute } from '../policy/routes.js';
import { ANONYMOUS } from '../policy/types.js';
import type { Decision, Direction, Principal } from '../policy/types.js';
import type { AuditBody, Outcome, SessionRecord, SessionSink } from '../audit/record.js';
import { auditBody } from '../audit/body.js';
import { replayHeaders } from '../audit/replay.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import { decodeBody, parseEncoding } from './encoding.js';
import type { Encoding } from './encoding.js';
import { isJson, mutation, parseContentType, readHeaders, setHeader } from './headers.js';
import type { Headers } from './headers.js';
import type {
  HttpBody,
  HttpHeaders,
  HttpStatusCode,
  ProcessingRequest,
  ProcessingResponse,
} from './protos.js';
import { routeHint, sourceIp } from './attributes.js';
import type { Identifier } from '../identity/identify.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import { authorize, describeCaller, dynamicMetadata, upstreamIdentityHeaders } from './identity.js';
import { checkAdmission } from './admission.js';
import type { Admission } from './admission.js';

export const SESSION_HEADER = 'x-callguard-session';
/** Methods whose calls carry a body when a request contract applies. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** Time allowed for the approval store beyond a hold's wait (Envoy's timer is extended by it). */
const STORE_MARGIN_MS = 8000;
/** A caller's retry of a held call names its approval here. */
export const APPROVAL_HEADER = 'x-callguard-approval';

const EMPTY = Buffer.alloc(0);

export interface ExchangeDeps {
  policy(): CompiledPolicy;
  config: Config;
  log: Logger;
  sink: SessionSink;
  identifier: Identifier;
  tokenizer?: Tokenizer | undefined;
  approvals?: ApprovalService | undefined;
  /** Keyed fingerprint of a finding's value for the audit record (audit/fingerprint.ts). */
  fingerprint?: (value: string) => string;
  now?: () => number;
  newId?: () => string;
  /**
   * Set when refusals are recorded (admission.record_refusals): the exchange then refuses
   * new calls while callguard is over capacity (a public route never).
   */
  admission?: Admission | undefined;
}

interface Side {
  encoding: Encoding;
  inspect: boolean;
  decision?: Decision;
  /** A text/event-stream answer, inspected event by event (STREAMED). */
  stream?: StreamInspector;
  /** The body as forwarded, as the audit record keeps it. */
  audit?: AuditBody;
}

export class Exchange {
  readonly id: string;
  private readonly started: number;
  private logger: Logger | undefined;
  private policy: CompiledPolicy | undefined;
  private route: RoutePlan | undefined;
  private fn: FunctionPlan | undefined;
  private principal: Principal = ANONYMOUS;
  private method: string | undefined;
  private path: string | undefined;
  private routeVia: 'metadata' | 'path' | undefined;
  private authority: string | undefined;
  private traceId: string | undefined;
  private sourceIp: string | undefined;
  private requestHeaders: Record<string, string> | undefined;
  private req: Side = { encoding: 'identity', inspect: false };
  private res: Side = { encoding: 'identity', inspect: false };
  private outcome: Outcome | undefined;
  private modified = false;
  private error: SessionRecord['error'];
  private upstreamStatus: number | undefined;
  /** The approval a retried call names (x-callguard-approval). */
  private approvalId: string | undefined;
  private approval: ApprovalSummary | undefined;
  /** Call ids → function names from the request, for the response's tool results. */
  private names: ReadonlyMap<string, string> | undefined;
  private finished = false;
  /** The last answer of this exchange has been computed; nothing more will be decided. */
  private completed = false;
  /** The request side has been answered (its headers ended it, or its body was judged). */
  private decided = false;

  constructor(private readonly deps: ExchangeDeps) {
    this.id = (deps.newId ?? randomUUID)();
    this.started = (deps.now ?? Date.now)();
  }

  /**
   * True once the answer just returned is the exchange's last (an immediate response, the
   * public fast path, or the end of the response): the record can be built and spooled
   * before that answer goes out, so a call whose response reached the client is recorded.
   */
  get complete(): boolean {
    return this.completed;
  }

  /** The exchange's logger, made when first used: most exchanges never log. */
  private get log(): Logger {
    return (this.logger ??= this.deps.log.child({ session_id: this.id }));
  }

  /**
   * How a side's body is to be delivered, once its headers are answered: judged whole
   * (`gather`), event by event (`stream`, SSE answers), or passed on untouched (`skip`).
   */
  bodyPlan(direction: Direction): 'gather' | 'stream' | 'skip' {
    const side = direction === 'request' ? this.req : this.res;
    if (side.stream) return 'stream';
    return side.inspect ? 'gather' : 'skip';
  }

  /** The answer to one message from Envoy. Never rejects: a failure becomes a refusal. */
  async handle(
    msg: ProcessingRequest,
    /** Sends a message before the answer (extending Envoy's timer while a call waits in line). */
    interim: (r: ProcessingResponse) => void = () => {},
  ): Promise<ProcessingResponse> {
    const answer = await this.answer(msg, interim);
    if (
      answer.immediate_response ||
      answer.mode_override ||
      msg.response_body?.end_of_stream ||
      msg.response_headers?.end_of_stream
    ) {
      this.completed = true;
    }
    return answer;
  }

  private async answer(
    msg: ProcessingRequest,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse> {
    try {
      if (msg.request_headers) return await this.onRequestHeaders(msg, msg.request_headers);
      if (msg.request_body) return await this.onBody('request', msg.request_body, interim);
      if (msg.response_headers) return this.onResponseHeaders(msg.response_headers);
      if (msg.response_body) return await this.onBody('response', msg.response_body, interim);
      if (msg.request_trailers) return { request_trailers: {} };
      if (msg.response_trailers) return { response_trailers: {} };
      throw new TypeError('ProcessingRequest without a known phase');
    } catch (e) {
      return this.refuse(e);
    }
  }

  private async onRequestHeaders(
    msg: ProcessingRequest,
    m: HttpHeaders,
  ): Promise<ProcessingResponse> {
    const h = readHeaders(m.headers);
    this.method = h.get(':method');
    this.path = h.get(':path');
    this.authority = h.get(':authority');
    this.traceId = h.get('x-request-id');
    this.sourceIp = sourceIp(msg);
    this.requestHeaders = replayHeaders(h);
    this.policy = this.deps.policy();
    const sel = selectRoute(this.policy, this.method ?? '', this.path ?? '', routeHint(msg));
    if (!sel.ok) throw new CallguardError('no_policy', sel.reason, { rule: 'routes' });
    this.route = sel.route;
    this.fn = sel.fn;
    this.routeVia = sel.via;
    // Before any body and before identity (the recorded refusal; see admission.ts).
    if (!sel.route.public) checkAdmission(this.deps.admission, 'ext_proc');

    if (this.deps.sink.accepting?.() === false) {
      // The audit spool is full and configured to refuse: no call goes unrecorded.
      throw new CallguardError('audit_unavailable', 'the audit record cannot be stored', {
        rule: 'audit.spool.on_full',
      });
    }

    if (sel.route.public) {
      // Fast path: Envoy stops sending this exchange's bodies and response headers.
      this.outcome = 'public';
      return {
        request_headers: { response: {} },
        mode_override: {
          request_body_mode: 'NONE',
          response_header_mode: 'SKIP',
          response_body_mode: 'NONE',
          request_trailer_mode: 'SKIP',
          response_trailer_mode: 'SKIP',
        },
      };
    }

    this.principal = await this.deps.identifier.identify({
      headers: h,
      metadata: dynamicMetadata(msg),
    });
    authorize(sel.route, this.principal);

    if (m.end_of_stream) {
      this.requireBody(false);
      this.decided = true;
    } else this.req = this.prepareSide(h, 'request');
    const { set, remove } = upstreamIdentityHeaders(
      sel.route,
      this.principal,
      this.deps.identifier,
    );
    const approval = h.get(APPROVAL_HEADER);
    if (approval !== undefined) {
      // Bounded and plain: the id goes into a store lookup and into error bodies.
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(approval)) {
        throw new CallguardError('approval_unknown', 'not an approval id', { rule: 'approvals' });
      }
      this.approvalId = approval;
    }
    remove.push(APPROVAL_HEADER);
    return {
      request_headers: {
        response: {
          header_mutation: mutation(
            set.map(([k, v]) => setHeader(k, v)),
            remove,
          ),
        },
      },
    };
  }

  private onResponseHeaders(m: HttpHeaders): ProcessingResponse {
    const h = readHeaders(m.headers);
    const status = Number(h.get(':status'));
    if (Number.isFinite(status)) this.upstreamStatus = status;
    const session = setHeader(SESSION_HEADER, this.id);
    if (!m.end_of_stream && this.route && this.policy && isEventStream(h)) {
      // Streamed answers are inspected event by event as they arrive, never buffered whole.
      if (parseEncoding(h.get('content-encoding')) !== 'identity') {
        throw new CallguardError(
          'unsupported_encoding',
          'a compressed event stream cannot be inspected',
          {
            rule: 'http.content_encoding',
            status: 502,
          },
        );
      }
      this.res = {
        encoding: 'identity',
        inspect: true,
        stream: new StreamInspector({
          policy: this.policy,
          route: this.route,
          fn: this.fn,
          principal: this.principal,
          direction: 'response',
          maxDepth: this.deps.config.limits.max_depth,
          tokenizer: this.deps.tokenizer,
          names: this.names,
        }),
      };
      return {
        response_headers: {
          // Event lengths change when values are masked: the body becomes chunked.
          response: { header_mutation: mutation([session], ['content-length']) },
        },
        mode_override: { response_body_mode: 'STREAMED' },
      };
    }
    if (!m.end_of_stream) this.res = this.prepareSide(h, 'response');
    return {
      response_headers: {
        response: { header_mutation: mutation([session]) },
      },
    };
  }

  /** One chunk of a streamed answer: what is safe to release of it goes on. */
  private onStreamChunk(stream: StreamInspector, m: HttpBody): ProcessingResponse {
    const raw = m.body ?? EMPTY; // the decoded message's own bytes: read, never copied
    const out = stream.push(raw, m.end_of_stream === true);
    this.res.decision = stream.decision();
    if (out.stopped && stream.error && !this.error) {
      this.outcome = 'denied';
      const e = stream.error;
      this.error = { code: e.code, status: e.status, paths: e.paths, rule: e.rule ?? null };
    }
    if (stream.changed) this.modified = true;
    if (Buffer.compare(out.body, raw) === 0) return { response_body: { response: {} } };
    return {
      response_body: {
        response: {
          status: 'CONTINUE_AND_REPLACE',
          body_mutation:
            out.body.length > 0 ? { body: Buffer.from(out.body) } : { clear_body: true },
        },
      },
    };
  }

  /**
   * A call that sends a body (POST, PUT, PATCH) to a function with a request contract must
   * send one the contract can check: an empty body is not JSON (fail closed). Header-only
   * methods (a GET whose response the contract checks) go on.
   */
  private requireBody(present: boolean): void {
    if (present || !this.fn?.request || !BODY_METHODS.has(this.method ?? '')) return;
    throw new CallguardError(
      'malformed_json',
      `the ${this.fn.name} request contract needs a JSON body`,
      {
        rule: `contract:${this.fn.name}:request:body`,
      },
    );
  }

  /** Checks the media type, encoding and declared size of a side that carries a body. */
  private prepareSide(h: Headers, direction: Direction): Side {
    const contract = this.fn?.[direction];
    const limit = this.deps.config.limits.max_body_bytes;
    const declared = Number(h.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      throw new CallguardError('body_too_large', `${direction} body exceeds ${limit} bytes`, {
        rule: 'limits.max_body_bytes',
        status: direction === 'response' ? 502 : undefined,
      });
    }
    const mt = parseContentType(h.get('content-type'));
    // A request body on a protected route must be JSON; a response body must be JSON when
    // there is a response contract to enforce.
    if ((direction === 'request' || contract) && !isJson(mt)) {
      throw new CallguardError(
        'unsupported_media_type',
        `${direction} content-type must be application/json (UTF-8)`,
        { rule: 'http.content_type', status: direction === 'response' ? 502 : undefined },
      );
    }
    const encoding = parseEncoding(h.get('content-encoding'));
    return { encoding, inspect: isJson(mt) };
  }

  private async onBody(
    direction: Direction,
    m: HttpBody,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse> {
    const side = direction === 'request' ? this.req : this.res;
    const key = direction === 'request' ? 'request_body' : 'response_body';
    if (!this.route || !this.policy) throw new TypeError(`${key} before request headers`);
    if (direction === 'request') this.decided = true;
    if (side.stream) return this.onStreamChunk(side.stream, m);
    const raw = m.body ?? EMPTY; // the decoded message's own bytes: read, never copied
    if (direction === 'request' && raw.length === 0) this.requireBody(false);
    if (!side.inspect || raw.length === 0) return { [key]: { response: {} } };
    const limit = this.deps.config.limits.max_body_bytes;
    if (raw.length > limit) {
      throw new CallguardError('body_too_large', `${direction} body exceeds ${limit} bytes`, {
        rule: 'limits.max_body_bytes',
        status: direction === 'response' ? 502 : undefined,
      });
    }
    const body = decodeBody(raw, side.encoding, limit);
    let result;
    try {
      result = inspect({
        policy: this.policy,
        route: this.route,
        fn: this.fn,
        principal: this.principal,
        direction,
        body,
        maxDepth: this.deps.config.limits.max_depth,
        tokenizer: this.deps.tokenizer,
        names: this.names,
        ...(this.deps.fingerprint ? { fingerprint: this.deps.fingerprint } : {}),
      });
    } catch (e) {
      // A refused body's findings still belong in the record (paths, levels, fingerprints).
      if (e instanceof CallguardError && e.decision) side.decision = e.decision;
      if (e instanceof CallguardError && direction === 'response' && e.status < 500) {
        // The caller did nothing wrong: a response the policy refuses is a bad gateway.
        throw new CallguardError(e.code, e.message, { paths: e.paths, rule: e.rule, status: 502 });
      }
      throw e;
    }
    if (direction === 'request') this.names = result.names;
    if (result.decision.action === 'hold') {
      if (direction === 'response') {
        // The call already happened: an answer cannot wait for an approval (fail closed).
        throw new CallguardError('blocked', 'a response cannot be held for approval', {
          paths: result.decision.findings.filter((f) => f.action === 'hold').map((f) => f.path),
          rule: 'hold',
          status: 502,
        });
      }
      side.decision = result.decision;
      await this.approve(body, result, interim);
    }
    side.decision = {
      ...result.decision,
      trace: [`caller ${describeCaller(this.principal)}`, ...result.decision.trace],
    };
    // Lengths, paths and actions only: never a body or a value.
    if (this.deps.log.isLevelEnabled('debug')) {
      this.log.debug(
        {
          direction,
          bytes: raw.length,
          action: result.decision.action,
          findings: result.decision.findings.map((f) => `${f.path}:${f.level}:${f.action}`),
          changed: result.changed,
        },
        'body inspected',
      );
    }
    side.audit = auditBody(result.body, result.decision, this.policy.levels, {
      maxBytes: this.deps.config.audit.max_body_bytes,
      maxDepth: this.deps.config.limits.max_depth,
    });
    if (!result.changed) return { [key]: { response: {} } };
    this.modified = true;
    const set = [setHeader('content-length', String(result.body.length))];
    // The edited body is forwarded decoded: re-encoding would change every byte anyway.
    const remove = side.encoding === 'identity' ? [] : ['content-encoding'];
    return {
      [key]: {
        response: {
          status: 'CONTINUE_AND_REPLACE',
          header_mutation: mutation(set, remove),
          body_mutation: {
            body: Buffer.from(result.body.buffer, result.body.byteOffset, result.body.length),
          },
        },
      },
    };
  }

  /**
   * A held call goes on only with an approval for exactly it: the retry's ticket, or one
   * approved while the request waits in line. Otherwise a ticket is made and the caller is
   * told to come back (403 approval_required). Returns when the call may go on.
   */
  private async approve(
    body: Uint8Array,
    result: ReturnType<typeof inspect>,
    interim: (r: ProcessingResponse) => void,
  ): Promise<void> {
    const approvals = this.deps.approvals;
    const hold = result.decision.hold;
    const route = this.route as RoutePlan;
    const heldPaths = result.decision.findings
      .filter((f) => f.action === 'hold')
      .map((f) => f.path);
    const heldRules = [
      ...new Set(result.decision.findings.filter((f) => f.action === 'hold').map((f) => f.rule)),
    ].join(',');
    if (!approvals || !hold) {
      throw new CallguardError(
        'approval_unavailable',
        'the call needs an approval, and no approval store is configured',
        {
          paths: heldPaths,
          rule: heldRules,
        },
      );
    }
    const payloadSha256 = payloadHash(
      parseJson(body, { maxDepth: this.deps.config.limits.max_depth }),
    );
    const context = {
      principal: this.principal,
      route: route.name,
      fn: this.fn?.name,
      payloadSha256,
      sessionId: this.id,
    };
    if (this.approvalId) {
      const id = this.approvalId;
      try {
        this.noteApproval(await approvals.redeem(id, context));
        return;
      } catch (e) {
        if (e instanceof ApprovalError) {
          throw new CallguardError(e.code as ErrorCode, e.message, {
            paths: heldPaths,
            rule: heldRules,
            extra: { approval_id: id },
          });
        }
        throw storeDown(e, heldPaths, heldRules, this.log);
      }
    }
    // Making the ticket (and any wait) can outlast Envoy's message_timeout: extend it first,
    // by the wait plus a margin for the store (Envoy caps it at max_message_timeout).
    const wait = Math.min(hold.wait_ms, this.deps.config.approvals.max_wait_ms);
    const started = Date.now();
    const extend = wait + STORE_MARGIN_MS;
    interim({
      override_message_timeout: {
        seconds: Math.floor(extend / 1000),
        nanos: (extend % 1000) * 1e6,
      },
    });
    const ticket = await approvals
      .hold({
        ...context,
        hold,
        method: this.method ?? '',
        path: (this.path ?? '').split('?')[0] as string,
        findings: result.decision.findings
          .filter((f) => f.action === 'hold')
          .map((f) => ({
            path: f.path,
            level: f.level,
            ...(f.detector ? { detector: f.detector } : {}),
            action: f.action,
            rule: f.rule,
            masked: result.previews.get(f) ?? '',
          })),
      })
      .catch((e: unknown) => {
        throw storeDown(e, heldPaths, heldRules, this.log);
      });
    this.noteApproval(ticket);
    const left = wait - (Date.now() - started);
    if (left > 0) {
      const down = (e: unknown) => {
        if (e instanceof ApprovalError) {
          throw new CallguardError(e.code as ErrorCode, e.message, {
            paths: heldPaths,
            rule: heldRules,
            extra: { approval_id: ticket.id },
          });
        }
        throw storeDown(e, heldPaths, heldRules, this.log);
      };
      const t = await approvals.waitForDecision(ticket.id, left).catch(down);
      if (t?.state === 'approved') {
        this.noteApproval(await approvals.redeem(ticket.id, context).catch(down));
        return;
      }
      if (t) this.noteApproval(t);
    }
    const links = approvals.links(ticket.id);
    throw new CallguardError(
      'approval_required',
      'the call is held for an approval; retry with x-callguard-approval once approved',
      {
        paths: heldPaths,
        rule: heldRules,
        extra: { approval_id: ticket.id, status_url: links.status, expires_at: ticket.expires_at },
      },
    );
  }

  private noteApproval(t: Ticket): void {
    const a: ApprovalSummary = {
      id: t.id,
      state: t.state,
      held_session_id: t.session_id,
      held_at: t.created_at,
      approved_by: t.approvals.map((r) => ({
        reviewer: r.reviewer,
        at: r.at,
        break_glass: r.break_glass,
      })),
    };
    if (t.rejection) a.rejected_by = t.rejection.reviewer;
    if (t.used) a.used_at = t.used.at;
    this.approval = a;
  }

  /** Fail closed: every failure becomes an ImmediateResponse with a JSON error. */
  refuse(e: unknown): ProcessingResponse {
    if (!(e instanceof CallguardError)) this.log.error({ err: safeError(e) }, 'exchange failed');
    const { status, body } = errorBody(e, this.id);
    this.outcome = e instanceof CallguardError ? 'denied' : 'error';
    this.error = { code: body.error.code, status, paths: body.error.paths, rule: body.error.rule };
    const headers = [
      setHeader('content-type', 'application/json'),
      setHeader(SESSION_HEADER, this.id),
    ];
    if (body.error.code === 'unauthenticated')
      headers.push(setHeader('www-authenticate', 'Bearer realm="callguard"'));
    if (e instanceof CallguardError && e.retryAfterS !== undefined)
      headers.push(setHeader('retry-after', String(e.retryAfterS)));
    return {
      immediate_response: {
        // protobufjs takes an enum's number as well as its name; our codes are HTTP numbers.
        status: { code: status as unknown as HttpStatusCode },
        headers: mutation(headers),
        body: Buffer.from(JSON.stringify(body)),
        details: `callguard_${body.error.code}`,
      },
    };
  }

  /**
   * Called once when the stream ends, however it ends. An exchange whose request side was
   * never judged is `aborted` whether or not the stream was cut (`_aborted`): with Envoy's
   * graceful ext_proc close (envoy/envoy.yaml) an abandoned request ends the stream cleanly.
   */
  finish(_aborted: boolean): SessionRecord | undefined {
    if (this.finished) return undefined;
    this.finished = true;
    const outcome: Outcome =
      this.outcome ?? (!this.decided ? 'aborted' : this.modified ? 'modified' : 'allowed');
    const record: SessionRecord = {
      session_id: this.id,
      started_at: new Date(this.started).toISOString(),
      duration_ms: (this.deps.now ?? Date.now)() - this.started,
      principal: {
        subject: this.principal.subject,
        groups: this.principal.groups,
        authMethod: this.principal.authMethod,
      },
      outcome,
    };
    if (this.principal.email) record.principal.email = this.principal.email;
    if (this.principal.name) record.principal.name = this.principal.name;
    if (this.principal.issuer) record.principal.issuer = this.principal.issuer;
    if (this.authority !== undefined) record.authority = this.authority;
    if (this.traceId !== undefined) record.trace_id = this.traceId;
    if (this.sourceIp !== undefined) record.source_ip = this.sourceIp;
    if (this.requestHeaders) record.request_headers = this.requestHeaders;
    if (this.req.inspect || this.res.inspect) record.format = 'json';
    if (this.req.audit) record.request_body = this.req.audit;
    if (this.res.audit) record.response_body = this.res.audit;
    const levels = this.policy?.levels;
    for (const f of [
      ...(this.req.decision?.findings ?? []),
      ...(this.res.decision?.findings ?? []),
    ])
      if (levels?.has(f.level))
        record.max_level = record.max_level ? levels.max(record.max_level, f.level) : f.level;
    if (this.method !== undefined) record.method = this.method;
    if (this.path !== undefined) record.path = this.path.split('?')[0] as string;
    if (this.route) record.route = this.route.name;
    if (this.routeVia) record.route_via = this.routeVia;
    if (this.fn) record.function = this.fn.name;
    if (this.route) record.format = this.route.format;
    if (this.approval) record.approval = this.approval;
    if (this.error) record.error = this.error;
    if (this.upstreamStatus !== undefined) record.upstream_status = this.upstreamStatus;
    if (this.req.decision) record.request = this.req.decision;
    if (this.res.decision) record.response = this.res.decision;
    this.deps.sink.submit(record);
    return record;
  }
}

function isEventStream(h: Headers): boolean {
  return parseContentType(h.get('content-type'))?.type === 'text/event-stream';
}

/** The approval store failed (Elasticsearch down or slow): the held call is refused, 503. */
function storeDown(e: unknown, paths: string[], rule: string, log: Logger): CallguardError {
  log.warn({ err: safeError(e) }, 'approval store unavailable');
  return new CallguardError(
    'approval_unavailable',
    'the approval store is unavailable; try again later',
    {
      paths,
      rule,
    },
  );
}
