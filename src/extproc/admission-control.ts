// Admission control: callguard refuses at request headers, before any body, the calls it
// cannot do in time, with a fast `503 overloaded` and `retry-after`, so that the calls it
// takes stay fast.
//
// What is measured is callguard's own capacity, never the number of open streams: a call
// waiting for a slow upstream holds a stream but costs no CPU. Every `interval_ms` the
// controller reads how busy the event loop was (its utilization: the share of wall time
// spent working rather than waiting for I/O, which also counts the time the process waited
// for a core). While the loop is busier than `target_utilization`, new calls are admitted
// at a rate scaled down to that share (a token bucket); when the limit stops binding
// (nothing refused and the loop under the target) it is lifted. The rate follows from what
// got in while the loop was full, which is the measured cost of a call (its CPU time plus
// the refusals beside it): no cost model is configured.
//
// Between two steps a burst can queue more than callguard can do in time, and that queue
// is not visible to it: the calls wait unread in the socket, and each turn of the loop
// reads and works through a large batch of them. What is visible is that the loop has not
// paused: when it has been working without a moment idle for longer than `max_busy_ms`,
// the calls being read now have waited about that long, and each new one is refused at
// once until the loop pauses again. This bounds the wait of an admitted call.
//
// A refusal is cheap only if callguard does not read the call: by default an ext_proc
// stream is refused as it opens, with one prebuilt ImmediateResponse, before its request
// headers message is even decoded (0.5–0.6× the CPU of refusing through the exchange,
// measured in docs/performance.md). Such a refusal has no session record: it is counted in
// /metrics and logged per overload episode. With `record_refusals: true` the exchange
// refuses at the request headers instead, after route selection (public routes are then
// never refused), and records each refusal with decision `overloaded`.

import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { AdmissionConfig } from '../config/config.js';
import type { AdmissionService, CallguardMetrics } from '../metrics.js';
import type { SessionSink } from '../audit/record.js';
import type { Logger } from '../log.js';
import { CallguardError, errorBody } from '../errors.js';
import { mutation, setHeader } from './headers.js';
import type { HttpStatusCode, ProcessingResponse } from './protos.js';

/** What admission control reads of the event loop (node:perf_hooks; fakes in tests). */
export interface LoopProbe {
  /** Share of wall time the loop worked since the previous call (0..1). */
  utilization(): number;
  /** Total time the loop has waited idle for I/O since the process started, in ms. */
  idleTime(): number;
}

export function eventLoopProbe(): LoopProbe {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    utilization() {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return u;
    },
    // Advances only when a turn of the loop waited for I/O: unchanged, the loop has not
    // paused since it was last read.
    idleTime: () => performance.nodeTiming.idleTime,
  };
}

/** No admitted rate below this: a trickle of calls still measures the loop. */
const MIN_RATE = 1;
/** Most the rate may grow in one interval while the limit still binds. */
const MAX_STEP_UP = 2;
/** Calls admitted in one run of work without a pause that make it a burst, not a stall. */
const BURST_CALLS = 8;
/** Calls the bucket may hold, as seconds of the rate: absorbs jitter, not bursts. */
const BURST_SECONDS = 0.02;

export class AdmissionControl {
  /** Admitted calls per second; Infinity while not limiting. */
  private limit = Infinity;
  private tokens = 0;
  private filled: number;
  private admitted = 0;
  private refused = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly probe: LoopProbe;
  private sampled: number;
  /** The loop's idle time when last read, and when it last changed (the last pause seen). */
  private idle = -1;
  private pausedAt = 0;
  /** Calls admitted since that pause. */
  private streak = 0;
  /** The loop's utilization over the last interval. */
  private lastUtilization = 0;
  /** Longest run of work without a pause seen at an admission this interval, ms. */
  private busiest = 0;
  /** Calls refused since the limit was set (for the log line when it is lifted). */
  private episode = { refused: 0, since: 0 };

  constructor(
    readonly config: AdmissionConfig,
    private readonly deps: {
      probe?: LoopProbe;
      now?: () => number;
      metrics?: CallguardMetrics['admission'];
      log?: Logger;
    } = {},
  ) {
    this.probe = deps.probe ?? eventLoopProbe();
    this.filled = this.now();
    this.sampled = this.filled;
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : performance.now();
  }

  /** Admitted calls per second now; Infinity while callguard is not limiting. */
  get rate(): number {
    return this.limit;
  }

  /** At a call's start: true to go on, false to refuse it (counted per service). */
  admit(service: AdmissionService): boolean {
    if (!this.config.enabled) return true;
    const now = this.now();
    const idle = this.probe.idleTime();
    if (idle !== this.idle) {
      this.idle = idle;
      this.pausedAt = now;
      this.streak = 0;
    }
    const busy = now - this.pausedAt;
    if (busy > this.busiest) this.busiest = busy;
    // A long run of work is a backlog only with load behind it: the loop was busy over the
    // last interval, or a limit is set, or many calls came in this run (a burst from idle).
    // A lone stall (the process descheduled, a long GC) at low load refuses nothing.
    if (
      busy > this.config.max_busy_ms &&
      (this.limit !== Infinity ||
        this.lastUtilization > this.config.target_utilization / 2 ||
        this.streak >= BURST_CALLS)
    )
      return this.refuse(service);
    if (this.limit === Infinity) return this.take();
    const burst = Math.max(1, this.limit * BURST_SECONDS);
    this.tokens = Math.min(burst, this.tokens + ((now - this.filled) / 1000) * this.limit);
    this.filled = now;
    if (this.tokens < 1) return this.refuse(service);
    this.tokens -= 1;
    return this.take();
  }

  private take(): true {
    this.admitted++;
    this.streak++;
    return true;
  }

  private refuse(service: AdmissionService): false {
    this.refused++;
    this.deps.metrics?.refused(service);
    return false;
  }

  /** One control step over the `seconds` since the last (the timer's; tests call it). */
  update(utilization: number, seconds: number): void {
    const rate = this.admitted / Math.max(seconds, 1e-3);
    const refused = this.refused;
    const busiest = this.busiest;
    this.admitted = 0;
    this.refused = 0;
    this.busiest = 0;
    const target = this.config.target_utilization;
    const u = utilization;
    this.lastUtilization = u;
    const before = this.limit;
    if (u > target) {
      // Over the share: what got in this interval, scaled down to the target.
      this.limit = Math.max(MIN_RATE, (Math.min(this.limit, rate) * target) / u);
    } else if (this.limit !== Infinity) {
      // Under the share: lift the limit once it no longer binds, else raise it towards the
      // share, doubling while far under it (an overshoot meets the busy-loop check).
      const step = u < target * 0.8 ? MAX_STEP_UP : target / Math.max(u, 1e-3);
      this.limit = refused === 0 ? Infinity : this.limit * step;
    }
    this.episode.refused += refused;
    const state = {
      limit_per_s: Math.round(this.limit),
      utilization: Math.round(u * 100) / 100,
      busy_ms: Math.round(busiest),
    };
    if (before === Infinity && this.limit !== Infinity) {
      this.tokens = Math.max(1, this.limit * BURST_SECONDS);
      this.filled = this.now();
      this.episode = { refused, since: this.now() };
      this.deps.log?.warn(state, 'over capacity: new calls admitted at a limited rate');
    } else if (before !== Infinity && this.limit === Infinity) {
      const secs = Math.round((this.now() - this.episode.since) / 100) / 10;
      this.deps.log?.info(
        { refused: this.episode.refused, seconds: secs },
        'admission limit lifted',
      );
    } else if (this.deps.log?.isLevelEnabled('debug') && (refused > 0 || this.limit !== Infinity)) {
      this.deps.log.debug({ ...state, refused, admitted_per_s: Math.round(rate) }, 'admission');
    }
    this.deps.metrics?.limit(this.limit);
    this.deps.metrics?.utilization(u);
  }

  /** Starts the control steps (not when admission is off). */
  start(): void {
    if (!this.config.enabled || this.timer) return;
    this.probe.utilization();
    this.sampled = this.now();
    this.timer = setInterval(() => {
      const now = this.now();
      this.update(this.probe.utilization(), (now - this.sampled) / 1000);
      this.sampled = now;
    }, this.config.interval_ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The refusal: 503 overloaded, retry after `retryAfterS`. */
export function overloaded(retryAfterS: number): CallguardError {
  return new CallguardError(
    'overloaded',
    'callguard is over capacity; the call was refused, retry later',
    { rule: 'admission', retryAfterS },
  );
}

/** Throws the refusal when admission control refuses the call (the recorded path). */
export function checkAdmission(
  admission: AdmissionControl | undefined,
  service: AdmissionService,
): void {
  if (admission === undefined || admission.admit(service)) return;
  throw overloaded(admission.config.retry_after_s);
}

/**
 * The ImmediateResponse that refuses an ext_proc stream as it opens, made once: the same
 * JSON error as any refusal, without a session (none is recorded).
 */
export function streamRefusal(retryAfterS: number): ProcessingResponse {
  const { status, body } = errorBody(overloaded(retryAfterS), null);
  return {
    immediate_response: {
      // protobufjs takes an enum's number as well as its name; our codes are HTTP numbers.
      status: { code: status as unknown as HttpStatusCode },
      headers: mutation([
        setHeader('content-type', 'application/json'),
        setHeader('retry-after', String(retryAfterS)),
      ]),
      body: Buffer.from(JSON.stringify(body)),
      details: 'callguard_overloaded',
    },
  };
}

/** A sink that drops the records of refusals (admission.record_refusals: false). */
export function withoutRefusals(sink: SessionSink): SessionSink {
  const out: SessionSink = {
    submit(record) {
      if (record.error?.code !== 'overloaded') sink.submit(record);
    },
  };
  if (sink.accepting) out.accepting = () => sink.accepting?.() !== false;
  return out;
}
