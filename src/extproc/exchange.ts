// One HTTP exchange as Envoy shows it to callguard: a state machine over the ext_proc
// phases. It dispatches on the message type (response headers may arrive before the
// request body is complete), answers each message exactly once, and builds the session
// record in one place, at the end, whatever path the exchange took.

import { randomUUID } from 'node:crypto';
import { CallguardError } from '../errors.js';
import { completeInspection, inspect, planInspection, StreamInspector } from '../engine/index.js';
import type { AnalyzedText, AnalyzerHits, HeadInspection, InspectInput } from '../engine/index.js';
import type { Analyzers } from '../analyze/index.js';
import type { AnalyzerRecord } from '../audit/record.js';
import { approvalGate, approvalSummary } from '../approval/gate.js';
import type { ApprovalService } from '../approval/service.js';
import type { CompiledPolicy, RoutePlan } from '../policy/compile.js';
import { ANONYMOUS } from '../policy/types.js';
import type { Decision, Direction, FindingDecision } from '../policy/types.js';
import type { SessionRecord, SessionSink } from '../audit/record.js';
import { sessionRecord } from '../audit/session.js';
import type { SessionFacts } from '../audit/session.js';
import { auditBody } from '../audit/body.js';
import { replayHeaders } from '../audit/replay.js';
import { traceFields } from '../audit/trace.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import { admit, APPROVAL_HEADER, refusal, SESSION_HEADER } from './admission.js';
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
import { describeCaller, dynamicMetadata } from './identity.js';
import type { AdmissionControl } from './admission-control.js';
import { headBinding, headInput, inspectHead, joinDecisions, scrubRefused } from './channels.js';

/** Methods whose calls carry a body when a request contract applies. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const EMPTY = Buffer.alloc(0);
/** A body's decision before there is one: the head's alone goes into the record. */
const nothing = (): Decision => ({ action: 'allow', findings: [], trace: [] });
/**
 * Analyzer timeouts up to this fit in Envoy's message_timeout (2 s shipped) beside
 * callguard's own work; a longer one first extends Envoy's timer by it plus ANALYSIS_MARGIN_MS.
 */
const ANALYSIS_IN_TIMER_MS = 1000;
const ANALYSIS_MARGIN_MS = 2000;
const NO_HITS: AnalyzerHits = new Map();

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
  /** The external analyzers' clients (routes with `analyzers:`); none: such routes refuse. */
  analyzers?: Analyzers | undefined;
  now?: () => number;
  newId?: () => string;
  /**
   * Set when refusals are recorded (admission.record_refusals): the exchange then refuses
   * new calls while callguard is over capacity (a public route never).
   */
  admission?: AdmissionControl | undefined;
}

interface Side {
  encoding: Encoding;
  inspect: boolean;
  /** A text/event-stream answer, inspected event by event (STREAMED). */
  stream?: StreamInspector;
}

export class Exchange {
  readonly id: string;
  /** The injectable clock (ms): the exchange's times and an approval's wait. */
  private readonly now: () => number;
  /** What the session record will say, noted as it is learnt. */
  private readonly facts: SessionFacts;
  private logger: Logger | undefined;
  private policy: CompiledPolicy | undefined;
  private req: Side = { encoding: 'identity', inspect: false };
  private res: Side = { encoding: 'identity', inspect: false };
  private modified = false;
  /** The approval a retried call names (x-callguard-approval). */
  private approvalId: string | undefined;
  /** Call ids → function names from the request, for the response's tool results. */
  private names: ReadonlyMap<string, string> | undefined;
  private finished = false;
  /** The last answer of this exchange has been computed; nothing more will be decided. */
  private completed = false;
  /** The request side has been answered (its headers ended it, or its body was judged). */
  private decided = false;
  /** Each side's head (URL, inspected headers): joined to its body's decision in the record. */
  private readonly head: Partial<Record<Direction, HeadInspection>> = {};
  /** What a held request head binds its approval to (its target and headers as received). */
  private heldHead: string | undefined;

  constructor(private readonly deps: ExchangeDeps) {
    this.id = (deps.newId ?? randomUUID)();
    this.now = deps.now ?? Date.now;
    this.facts = { id: this.id, started: this.now(), principal: ANONYMOUS };
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
      if (msg.request_headers)
        return await this.onRequestHeaders(msg, msg.request_headers, interim);
      if (msg.request_body) return await this.onBody('request', msg.request_body, interim);
      if (msg.response_headers) return this.onResponseHeaders(msg.response_headers);
      if (msg.response_body) return await this.onBody('response', msg.response_body, interim);
      if (msg.request_trailers) return { request_trailers: {} };
      if (msg.response_trailers) return { response_trailers: {} };
      throw new TypeError('ProcessingRequest without a known phase');
    } catch (e) {
      const responseSide = msg.response_headers ?? msg.response_body;
      return this.refuse(responseSide ? answerRefused(e) : e);
    }
  }

  private async onRequestHeaders(
    msg: ProcessingRequest,
    m: HttpHeaders,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse> {
    const h = readHeaders(m.headers);
    const f = this.facts;
    f.method = h.get(':method');
    f.target = h.get(':path');
    f.authority = h.get(':authority');
    f.trace = traceFields(h);
    f.sourceIp = sourceIp(msg);
    f.requestHeaders = replayHeaders(h);
    this.policy = this.deps.policy();
    const admitted = await admit(f, {
      policy: this.policy,
      method: f.method ?? '',
      path: f.target ?? '',
      hint: routeHint(msg),
      headers: h,
      metadata: dynamicMetadata(msg),
      identifier: this.deps.identifier,
      sink: this.deps.sink,
      control: this.deps.admission,
      service: 'ext_proc',
    });
    if (admitted.public) {
      // A public route is not inspected: its path is recorded as it came.
      f.path = f.target;
      // Fast path: Envoy stops sending this exchange's bodies and response headers.
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

    const approval = h.get(APPROVAL_HEADER);
    if (approval !== undefined) {
      // Bounded and plain: the id goes into a store lookup and into error bodies.
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(approval)) {
        throw new CallguardError('approval_unknown', 'not an approval id', { rule: 'approvals' });
      }
      this.approvalId = approval;
    }
    // The URL and the named headers: read before the body, for a GET as for a POST.
    const route = f.route!;
    const input = headInput(
      this.engineInput(this.policy, route, 'request'),
      this.deps.config,
      h,
      f.target ?? '',
    );
    const head = inspectHead(f, 'request', input);
    this.head.request = head;
    if (head.decision.findings.length > 0) this.note('request', nothing());
    if (head.decision.action === 'hold') this.heldHead = headBinding(input, head);
    if (m.end_of_stream) {
      this.requireBody(false);
      this.decided = true;
      // A held header-only call goes on only with an approval (the body's turn never comes).
      if (head.decision.action === 'hold')
        await this.approve(EMPTY, head.decision, head.previews, interim);
    } else this.req = this.prepareSide(h, 'request');
    const { set, remove } = admitted;
    // The masked URL: Envoy keeps the route it chose for the original one (no route cache
    // clearing is asked for), and the upstream gets this path.
    if (head.target !== undefined) set.push([':path', head.target]);
    set.push(...head.headers);
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
    if (Number.isFinite(status)) this.facts.upstreamStatus = status;
    const session = setHeader(SESSION_HEADER, this.id);
    if (this.facts.method === undefined) {
      // Envoy answered the request itself before it reached callguard: a filter ahead of
      // ext_proc refused it (jwt_authn: no token). Since 1.38 Envoy runs such local replies
      // through ext_proc's response path; 1.36 never showed them. Nothing came from an
      // upstream, so the reply goes on as it is, and is recorded.
      this.facts.outcome = 'envoy_reply';
      return { response_headers: { response: { header_mutation: mutation([session]) } } };
    }
    const route = this.facts.route;
    if (!m.end_of_stream && route && this.policy && isEventStream(h)) {
      // Streamed answers are inspected event by event as they arrive, never buffered whole.
      if (parseEncoding(h.get('content-encoding')) !== 'identity') {
        throw new CallguardError(
          'unsupported_encoding',
          'a compressed event stream cannot be inspected',
          { rule: 'http.content_encoding' },
        );
      }
      this.res = {
        encoding: 'identity',
        inspect: true,
        stream: new StreamInspector({
          ...this.engineInput(this.policy, route, 'response'),
          sessionId: this.id,
        }),
      };
      return {
        response_headers: {
          // Event lengths change when values are masked: the body becomes chunked.
          response: {
            header_mutation: mutation([session, ...this.responseHead(h)], ['content-length']),
          },
        },
        mode_override: { response_body_mode: 'STREAMED' },
      };
    }
    if (!m.end_of_stream) this.res = this.prepareSide(h, 'response');
    return {
      response_headers: {
        response: { header_mutation: mutation([session, ...this.responseHead(h)]) },
      },
    };
  }

  /**
   * The response's named headers, read and decided: the header mutations that mask them. A
   * response cannot wait for an approval: a held value refuses it (fail closed).
   */
  private responseHead(h: Headers): ReturnType<typeof setHeader>[] {
    const route = this.facts.route;
    if (!route || !this.policy) return [];
    const input = headInput(
      this.engineInput(this.policy, route, 'response'),
      this.deps.config,
      h,
      undefined,
    );
    if (input.headers.length === 0) return [];
    const head = inspectHead(this.facts, 'response', input);
    this.head.response = head;
    if (head.decision.findings.length > 0) this.note('response', nothing());
    if (head.decision.action === 'hold') throw heldResponse(head.decision);
    return head.headers.map(([k, v]) => setHeader(k, v));
  }

  /** A side's decision as the record shows it: its head's findings, then its body's. */
  private note(direction: Direction, body: Decision): void {
    this.facts[direction] = joinDecisions(this.head[direction]?.decision, body);
  }

  /**
   * One chunk of a streamed answer: what is safe to release of it goes on. On a route with
   * analyzers the chunk's texts go to them first (StreamInspector.plan); if they fail and
   * the policy says block, the stream is stopped with an error event.
   */
  private async onStreamChunk(
    stream: StreamInspector,
    route: RoutePlan,
    m: HttpBody,
    interim: (r: ProcessingResponse) => void,
  ): Promise<ProcessingResponse> {
    const raw = m.body ?? EMPTY; // the decoded message's own bytes: read, never copied
    const end = m.end_of_stream === true;
    let out;
    if (route.analyzers?.length) {
      const batch = stream.plan(raw, end);
      let hits: AnalyzerHits | undefined;
      try {
        hits = await this.analyze(route, 'response', batch.items, interim);
      } catch (e) {
        if (!(e instanceof CallguardError)) throw e;
        out = stream.fail(e);
      }
      out ??= stream.push(batch, end, hits);
    } else out = stream.push(raw, end);
    this.note('response', stream.decision());
    if (out.stopped && stream.error && !this.facts.error) {
      // The stream goes on with an error event (its headers are gone): recorded as refused.
      this.facts.outcome = 'denied';
      const e = answerRefused(stream.error);
      this.facts.error = { code: e.code, status: e.status, paths: e.paths, rule: e.rule ?? null };
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
   * What the engine is given for one side, the same for a whole body and for a stream: the
   * policy and route, the caller, the limits, and the keyed fingerprint.
   */
  private engineInput(
    policy: CompiledPolicy,
    route: RoutePlan,
    direction: Direction,
  ): Omit<InspectInput, 'body'> {
    return {
      policy,
      route,
      fn: this.facts.fn,
      principal: this.facts.principal,
      direction,
      maxDepth: this.deps.config.limits.max_depth,
      tokenizer: this.deps.tokenizer,
      names: this.names,
      fingerprint: this.deps.fingerprint,
    };
  }

  /**
   * A call that sends a body (POST, PUT, PATCH) to a function with a request contract must
   * send one the contract can check: an empty body is not JSON (fail closed). Header-only
   * methods (a GET whose response the contract checks) go on.
   */
  private requireBody(present: boolean): void {
    const fn = this.facts.fn;
    if (present || !fn?.request || !BODY_METHODS.has(this.facts.method ?? '')) return;
    throw new CallguardError(
      'malformed_json',
      `the ${fn.name} request contract needs a JSON body`,
      {
        rule: `contract:${fn.name}:request:body`,
      },
    );
  }

  /** Checks the media type, encoding and declared size of a side that carries a body. */
  private prepareSide(h: Headers, direction: Direction): Side {
    const contract = this.facts.fn?.[direction];
    const limit = this.deps.config.limits.max_body_bytes;
    const declared = Number(h.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      throw new CallguardError('body_too_large', `${direction} body exceeds ${limit} bytes`, {
        rule: 'limits.max_body_bytes',
      });
    }
    const mt = parseContentType(h.get('content-type'));
    // A request body on a protected route must be JSON; a response body must be JSON when
    // there is a response contract to enforce.
    if ((direction === 'request' || contract) && !isJson(mt)) {
      throw new CallguardError(
        'unsupported_media_type',
        `${direction} content-type must be application/json (UTF-8)`,
        { rule: 'http.content_type' },
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
    const f = this.facts;
    if (f.outcome === 'envoy_reply' && direction === 'response') return { [key]: { response: {} } };
    const route = f.route;
    if (!route || !this.policy) throw new TypeError(`${key} before request headers`);
    if (direction === 'request') this.decided = true;
    if (side.stream) return this.onStreamChunk(side.stream, route, m, interim);
    const raw = m.body ?? EMPTY; // the decoded message's own bytes: read, never copied
    if (direction === 'request' && raw.length === 0) this.requireBody(false);
    if (!side.inspect || raw.length === 0) return { [key]: { response: {} } };
    const limit = this.deps.config.limits.max_body_bytes;
    if (raw.length > limit) {
      throw new CallguardError('body_too_large', `${direction} body exceeds ${limit} bytes`, {
        rule: 'limits.max_body_bytes',
      });
    }
    const body = decodeBody(raw, side.encoding, limit);
    let result;
    try {
      const input = { ...this.engineInput(this.policy, route, direction), body };
      if (route.analyzers?.length) {
        // The analyzers get the texts the detectors read; their spans join the detectors'.
        const plan = planInspection(input);
        result = completeInspection(
          plan,
          await this.analyze(route, direction, plan.sites, interim),
        );
      } else result = inspect(input);
    } catch (e) {
      // A refused body's findings still belong in the record (paths, levels, fingerprints).
      if (e instanceof CallguardError && e.decision) this.note(direction, e.decision);
      throw e;
    }
    if (direction === 'request') this.names = result.names;
    // A value held in the URL or a named header waits for the body: one approval for both.
    const decision = joinDecisions(this.head[direction]?.decision, result.decision);
    if (decision.action === 'hold') {
      // Held findings belong in the record whatever comes of the hold.
      f[direction] = decision;
      // The call already happened: an answer cannot wait for an approval (fail closed).
      if (direction === 'response') throw heldResponse(decision);
      const previews = new Map([...(this.head.request?.previews ?? []), ...result.previews]);
      await this.approve(body, decision, previews, interim);
    }
    this.note(direction, {
      ...result.decision,
      trace: [`caller ${describeCaller(f.principal)}`, ...result.decision.trace],
    });
    // Lengths, paths and actions only: never a body or a value.
    if (this.deps.log.isLevelEnabled('debug')) {
      this.log.debug(
        {
          direction,
          bytes: raw.length,
          action: result.decision.action,
          findings: result.decision.findings.map((x) => `${x.path}:${x.level}:${x.action}`),
          changed: result.changed,
        },
        'body inspected',
      );
    }
    f[direction === 'request' ? 'requestBody' : 'responseBody'] = auditBody(
      result.body,
      result.decision,
      this.policy.levels,
      {
        maxBytes: this.deps.config.audit.max_body_bytes,
        maxDepth: this.deps.config.limits.max_depth,
      },
    );
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
   * The route's analyzers over `items` (one request each at most): their hits for the engine,
   * what each did noted for the record. A failure refuses the call (503
   * analyzer_unavailable), unless the analyzer's on_error is allow_with_record or it (or the
   * route) is in monitor mode: then the texts go on without its hits, and the record says so.
   */
  private async analyze(
    route: RoutePlan,
    direction: Direction,
    items: readonly AnalyzedText[],
    interim: (r: ProcessingResponse) => void,
  ): Promise<AnalyzerHits> {
    const plans = route.analyzers ?? [];
    if (items.length === 0 || plans.length === 0) return NO_HITS;
    const pool = this.deps.analyzers;
    if (!pool) {
      throw new CallguardError('analyzer_unavailable', 'no analyzer client is configured', {
        rule: plans.map((p) => `analyzers.${p.name}`).join(','),
      });
    }
    // The analyzers run side by side: the longest timeout bounds the wait.
    const budget = Math.max(...plans.map((p) => p.timeoutMs));
    if (budget > ANALYSIS_IN_TIMER_MS) {
      const ms = budget + ANALYSIS_MARGIN_MS;
      interim({
        override_message_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
      });
    }
    const { hits, uses } = await pool.run(plans, items);
    const refused: string[] = [];
    for (const { plan, use } of uses) {
      const rec: AnalyzerRecord = { ...use, direction };
      if (use.outcome === 'failed') {
        rec.on_error = route.monitor || plan.monitor ? 'monitor' : plan.onError;
        if (rec.on_error === 'block') refused.push(plan.name);
        // Names, reasons and counts only: never a text.
        this.log.warn(
          {
            analyzer: plan.name,
            direction,
            error: use.error,
            status: use.status,
            texts: use.texts,
            ms: use.duration_ms,
            on_error: rec.on_error,
          },
          'analyzer failed',
        );
      }
      this.noteAnalyzer(rec);
    }
    if (refused.length > 0) {
      throw new CallguardError(
        'analyzer_unavailable',
        `analyzer ${refused.join(', ')} did not answer in time or properly; the call was not forwarded`,
        { rule: refused.map((n) => `analyzers.${n}`).join(',') },
      );
    }
    return hits;
  }

  /** One analyzer use for the record; a stream's batches are summed per analyzer and side. */
  private noteAnalyzer(rec: AnalyzerRecord): void {
    const list = (this.facts.analyzers ??= []);
    const known = list.find((r) => r.analyzer === rec.analyzer && r.direction === rec.direction);
    if (!known) {
      list.push(rec);
      return;
    }
    known.texts += rec.texts;
    known.cached += rec.cached;
    known.requests += rec.requests;
    known.duration_ms = Math.round((known.duration_ms + rec.duration_ms) * 1000) / 1000;
    if (rec.outcome === 'failed' && known.outcome === 'ok') {
      known.outcome = 'failed';
      if (rec.error) known.error = rec.error;
      if (rec.status !== undefined) known.status = rec.status;
      if (rec.on_error) known.on_error = rec.on_error;
    }
  }

  /**
   * A held request goes on only as the approval gate says: its outcome's ticket is noted for
   * the record, and a refusal is thrown to be answered.
   */
  private async approve(
    body: Uint8Array,
    decision: Decision,
    previews: ReadonlyMap<FindingDecision, string>,
    interim: (r: ProcessingResponse) => void,
  ): Promise<void> {
    const f = this.facts;
    const outcome = await approvalGate(
      {
        principal: f.principal,
        route: f.route?.name ?? '',
        fn: f.fn?.name,
        sessionId: this.id,
        method: f.method ?? '',
        // As the record keeps it: never a value in clear.
        path: (f.path ?? '').split('?')[0] as string,
        body,
        head: this.heldHead,
        maxDepth: this.deps.config.limits.max_depth,
        decision,
        previews,
        approvalId: this.approvalId,
      },
      {
        approvals: this.deps.approvals,
        maxWaitMs: this.deps.config.approvals.max_wait_ms,
        now: this.now,
        log: this.log,
        extendTimer: (ms) =>
          interim({
            override_message_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
          }),
      },
    );
    if (outcome.ticket) f.approval = approvalSummary(outcome.ticket);
    if (!outcome.pass) throw outcome.error;
  }

  /** Fail closed: every failure becomes an ImmediateResponse with a JSON error. */
  refuse(e: unknown): ProcessingResponse {
    if (!(e instanceof CallguardError)) this.log.error({ err: safeError(e) }, 'exchange failed');
    scrubRefused(this.facts, this.policy, this.deps.config);
    const r = refusal(this.facts, e);
    return {
      immediate_response: {
        // protobufjs takes an enum's number as well as its name; our codes are HTTP numbers.
        status: { code: r.status as unknown as HttpStatusCode },
        headers: mutation(r.headers.map(([k, v]) => setHeader(k, v))),
        body: Buffer.from(JSON.stringify(r.body)),
        details: `callguard_${r.body.error.code}`,
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
    const record = sessionRecord(
      this.facts,
      this.now(),
      this.facts.outcome ?? (!this.decided ? 'aborted' : this.modified ? 'modified' : 'allowed'),
    );
    this.deps.sink.submit(record);
    return record;
  }
}

/**
 * A refused response, streamed or whole, wherever the value was: the caller did nothing
 * wrong, so it is a bad gateway (502) with the same code.
 */
function answerRefused(e: CallguardError): CallguardError;
function answerRefused(e: unknown): unknown;
function answerRefused(e: unknown): unknown {
  return e instanceof CallguardError && e.status < 500 ? e.withStatus(502) : e;
}

/** A response with a held value: the call already happened, it cannot wait (fail closed). */
function heldResponse(d: Decision): CallguardError {
  return new CallguardError('blocked', 'a response cannot be held for approval', {
    paths: d.findings.filter((x) => x.action === 'hold').map((x) => x.path),
    rule: 'hold',
    decision: d,
  });
}

function isEventStream(h: Headers): boolean {
  return parseContentType(h.get('content-type'))?.type === 'text/event-stream';
}
