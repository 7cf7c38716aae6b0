// The gRPC server: ext_proc streams, gRPC health, and graceful shutdown that drains open
// streams. One Exchange per stream; the stream never closes with OK while an answer is
// owed, because Envoy treats a clean close as "continue unchecked".

import * as grpc from '@grpc/grpc-js';
import type { SessionSink } from '../audit/record.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { safeError } from '../log.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { Exchange } from './exchange.js';
import { DuplexFlow } from './duplex.js';
import { loadServices } from './protos.js';
import type {
  CheckRequest,
  CheckResponse,
  ProcessingRequest,
  ProcessingResponse,
} from './protos.js';
import { check } from './authz.js';
import type { Identifier } from '../identity/identify.js';
import type { Tokenizer } from '../enforce/tokenize.js';
import type { ApprovalService } from '../approval/service.js';
import type { CallguardMetrics, Phase } from '../metrics.js';
import { AdmissionControl, streamRefusal, withoutRefusals } from './admission-control.js';
import type { Analyzers } from '../analyze/index.js';

export interface GrpcDeps {
  config: Config;
  log: Logger;
  sink: SessionSink;
  identifier: Identifier;
  tokenizer?: Tokenizer | undefined;
  approvals?: ApprovalService | undefined;
  policy(): CompiledPolicy;
  fingerprint?: (value: string) => string;
  /** The external analyzers' clients (policy `analyzers:`). */
  analyzers?: Analyzers | undefined;
  /** Open streams and per-phase latency (sessions are counted by the sink, at finish). */
  metrics: Pick<CallguardMetrics, 'openStreams' | 'phase' | 'admission'>;
}

export interface GrpcHandle {
  /** The bound port (useful when the address asked for port 0). */
  port: number;
  openStreams(): number;
  /** Stop accepting, let open streams finish for up to graceMs, then cut them. */
  shutdown(graceMs: number): Promise<void>;
}

/** Headroom over the body limit for headers, attributes and protobuf framing. */
const MESSAGE_HEADROOM = 1024 * 1024;

export async function startGrpc(deps: GrpcDeps): Promise<GrpcHandle> {
  const maxMessage = deps.config.limits.max_body_bytes + MESSAGE_HEADROOM;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessage,
    'grpc.max_send_message_length': maxMessage,
    // channelz (gRPC's introspection service) is not served: no need to count for it.
    'grpc.enable_channelz': 0,
  });
  const services = loadServices();
  let open = 0;
  let serving = true;
  const admission = new AdmissionControl(deps.config.admission, {
    metrics: deps.metrics.admission,
    log: deps.log,
  });
  admission.start();
  const recorded = deps.config.admission.record_refusals;
  const refusal = streamRefusal(deps.config.admission.retry_after_s);
  // What every exchange and check shares: made once, not per stream. Unless refusals are
  // recorded, an ext_proc stream is refused as it opens (below), not by its exchange.
  const sink = recorded ? deps.sink : withoutRefusals(deps.sink);
  const exchangeDeps = { ...deps, sink, admission: recorded ? admission : undefined };
  const authzDeps = { ...deps, sink, admission };

  server.addService(services.extProc, {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) {
      if (!recorded && !admission.admit('ext_proc')) {
        // Refused before a message is read: nothing is decoded, no exchange is made.
        call.on('error', () => {});
        call.write(refusal);
        call.end();
        return;
      }
      open++;
      deps.metrics.openStreams.inc();
      const exchange = new Exchange(exchangeDeps);
      const flow = new DuplexFlow(exchange, deps.config.limits.max_body_bytes);
      let closed = false;
      const record = (aborted: boolean) => {
        try {
          exchange.finish(aborted); // once; later calls do nothing
        } catch (e) {
          deps.log.error({ err: safeError(e), session_id: exchange.id }, 'session record failed');
        }
      };
      const close = (aborted: boolean) => {
        if (closed) return;
        closed = true;
        open--;
        deps.metrics.openStreams.dec();
        record(aborted);
      };
      // Messages are answered one at a time, in order; the stream ends only after the
      // last answer is written.
      let queue: Promise<void> = Promise.resolve();
      call.on('data', (msg: ProcessingRequest) => {
        // handle() never rejects: any failure is already an ImmediateResponse refusal.
        queue = queue.then(async () => {
          const started = performance.now();
          const answers = await flow.handle(msg, (r) => {
            if (!closed) call.write(r);
          });
          // A body chunk only gathered (FULL_DUPLEX_STREAMED) is not a phase: the chunk
          // that completes the body is timed with the judging of the whole.
          const gathered = answers.length === 0 && (msg.request_body ?? msg.response_body);
          if (!gathered) deps.metrics.phase(phaseOf(msg), (performance.now() - started) / 1000);
          // The last answer: the session record is spooled before it goes out.
          if (exchange.complete) record(false);
          if (!closed) for (const a of answers) call.write(a);
        });
      });
      call.on('end', () => {
        void queue.then(() => {
          close(false);
          call.end();
        });
      });
      call.on('error', () => close(true));
      call.on('cancelled', () => close(true));
    },
  });

  server.addService(services.authorization, {
    Check(
      call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>,
      cb: grpc.sendUnaryData<CheckResponse>,
    ) {
      open++;
      const started = performance.now();
      check(authzDeps, call.request).then(
        (r) => {
          open--;
          deps.metrics.phase('authz_check', (performance.now() - started) / 1000);
          cb(null, r);
        },
        (e: unknown) => {
          open--;
          deps.log.error({ err: safeError(e) }, 'check failed');
          cb({ code: grpc.status.INTERNAL, details: 'internal error' });
        },
      );
    },
  });

  server.addService(services.health, {
    Check(_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
      cb(null, { status: serving ? 'SERVING' : 'NOT_SERVING' });
    },
    Watch(call: grpc.ServerWritableStream<unknown, unknown>) {
      call.write({ status: serving ? 'SERVING' : 'NOT_SERVING' });
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(deps.config.grpc_addr, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });

  return {
    port,
    openStreams: () => open,
    shutdown(graceMs: number) {
      serving = false;
      admission.stop();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          deps.log.warn({ open_streams: open }, 'shutdown grace elapsed; cutting open streams');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** The phase of one ext_proc message, for the latency histogram. */
function phaseOf(msg: ProcessingRequest): Phase {
  if (msg.request_headers) return 'request_headers';
  if (msg.request_body) return 'request_body';
  if (msg.response_headers) return 'response_headers';
  if (msg.response_body) return 'response_body';
  if (msg.request_trailers) return 'request_trailers';
  return 'response_trailers';
}
