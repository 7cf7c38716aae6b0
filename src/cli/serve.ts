// `callguard serve`: load config and policy (refusing to start on any error), start the
// gRPC and admin servers, reload the policy on change or SIGHUP, and drain on
// SIGTERM/SIGINT.

import { Analyzers } from '../analyze/index.js';
import { LogSink } from '../audit/record.js';
import { Client } from '@elastic/elasticsearch';
import { ApprovalService } from '../approval/service.js';
import { WebhookNotifier } from '../approval/notify.js';
import { TicketStore } from '../approval/store.js';
import {
  approvalsElasticsearchUrl,
  ConfigError,
  identityHeaders,
  readTokenKeys,
  readWebhookSecret,
} from '../config/config.js';
import type { SessionSink } from '../audit/record.js';
import { ElasticsearchSink } from '../audit/es-sink.js';
import { Fingerprinter } from '../audit/fingerprint.js';
import { SessionStore } from '../audit/search.js';
import type { Config } from '../config/config.js';
import { Tokenizer } from '../enforce/tokenize.js';
import { startAdmin } from '../admin/server.js';
import { AdminUi } from '../admin/ui/pages.js';
import { startGrpc } from '../extproc/server.js';
import { createLogger } from '../log.js';
import type { Logger } from '../log.js';
import { createMetrics, meteredSink } from '../metrics.js';
import { PolicyRefused, PolicyStore } from '../policy/reload.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { refusedHeader } from '../policy/headers.js';
import { Identifier } from '../identity/identify.js';

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.log.level);
  const metrics = createMetrics();
  const keys = readTokenKeys(config.tokenize);
  const tokenizer = keys.length > 0 ? new Tokenizer(keys) : undefined;
  // What this process cannot serve: a policy that tokenizes without keys, a route that
  // names a header this configuration reads identities from in inspect_headers.
  const identity = identityHeaders(config);
  const unservable = (p: CompiledPolicy): string | undefined => {
    if (p.needsTokenKeys && !tokenizer)
      return 'the policy tokenizes or detokenizes, but tokenize.keys is empty';
    for (const r of p.routes)
      for (const h of r.inspectHeaders) {
        const why = refusedHeader(h, identity);
        if (why) return `route ${r.name}: inspect_headers: ${why}`;
      }
    return undefined;
  };
  const store = new PolicyStore({
    paths: config.policies,
    log,
    metrics,
    // A reload this process cannot serve is refused like an invalid edit.
    accept: (p) => {
      const why = unservable(p);
      if (why) throw new PolicyRefused(why);
    },
  });
  const policy = () => store.current();
  const why = unservable(policy());
  if (why) throw new ConfigError(why);
  let draining = false;
  const identifier = new Identifier(config.identity, config.dev.groups_header);
  const approvals = startApprovals(config, log);
  const es = config.audit.elasticsearch;
  // Fingerprints exist for the Elasticsearch audit (the log sink never writes them).
  const fingerprinter = es ? Fingerprinter.fromConfig(config.audit.fingerprint) : undefined;
  const esSink = es
    ? new ElasticsearchSink({ ...config.audit, elasticsearch: es }, log)
    : undefined;
  const sink: SessionSink = esSink ?? new LogSink(log);
  const analyzers = new Analyzers({ meter: metrics.analyzers });
  const grpc = await startGrpc({
    analyzers,
    approvals,
    config,
    log,
    sink: meteredSink(metrics, sink),
    identifier,
    tokenizer,
    policy,
    metrics,
    ...(fingerprinter ? { fingerprint: (v: string) => fingerprinter.of(v) } : {}),
  });
  const admin = await startAdmin({
    addr: config.admin_addr,
    policy: () => store.status(),
    draining: () => draining,
    approvals: {
      service: approvals,
      identifier,
      sources: config.admin.auth_sources,
      log,
    },
    ...(esSink ? { audit: () => esSink.status() } : {}),
    ui: new AdminUi({ admin: config.admin, log }),
    sessions: {
      store: esSink && es ? new SessionStore(esSink.es, es.index_prefix) : undefined,
      fingerprinter,
      identifier,
      admin: config.admin,
      log,
    },
    metrics,
  });
  if (config.policy_reload.watch) store.watch(config.policy_reload.debounce_ms);
  const gauges = watchGauges(metrics, esSink, approvals);
  process.on('SIGHUP', () => void store.reload('SIGHUP'));
  // Before the first line that says callguard listens: a SIGTERM from then on drains.
  const stop = async (signal: string) => {
    if (draining) return;
    draining = true;
    store.close();
    log.info({ signal, open_streams: grpc.openStreams() }, 'draining');
    await grpc.shutdown(config.shutdown_grace_ms);
    approvals?.stop();
    analyzers.close();
    clearInterval(gauges);
    await admin.close();
    // Records not shipped within the grace stay in the spool for the next start.
    await esSink?.close(Math.min(config.shutdown_grace_ms, 5_000));
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  log.info(
    {
      grpc_addr: config.grpc_addr,
      grpc_port: grpc.port,
      admin_addr: config.admin_addr,
      admin_port: admin.port,
      routes: policy().routes.length,
      policy_version: store.status().version,
      policy_hash: store.status().hash.slice(0, 12),
      policy_watch: config.policy_reload.watch,
      dev_groups_header: config.dev.groups_header || undefined,
      audit: es
        ? { elasticsearch: es.url, index_prefix: es.index_prefix, spool: config.audit.spool.dir }
        : 'log',
    },
    'callguard listening',
  );
  if (config.dev.groups_header) {
    log.warn(
      { header: config.dev.groups_header },
      'DEVELOPMENT ONLY: caller groups are taken from a request header',
    );
  }
}

/** The approval service over its Elasticsearch index, when one is configured. */
function startApprovals(config: Config, log: Logger): ApprovalService | undefined {
  const a = config.approvals;
  const url = approvalsElasticsearchUrl(config);
  if (!url) return undefined;
  // Within the 8 s margin callguard asks Envoy for: a slow or absent store is a 503, not
  // Envoy's 504 (a hold may need two requests: the index on first use, then the ticket).
  const client = new Client({ node: url, requestTimeout: 3500, maxRetries: 0 });
  const store = new TicketStore(client, a.index);
  // Not awaited: callguard starts while Elasticsearch is down; a hold then gets 503.
  store
    .ensure()
    .catch(() => log.warn('approval store not reachable yet; held calls get 503 until it is'));
  const notifier = a.webhook
    ? new WebhookNotifier(
        {
          url: a.webhook.url,
          secret: readWebhookSecret(a),
          timeoutMs: a.webhook.timeout_ms,
          retryDelaysMs: [500, 2000, 8000].slice(0, a.webhook.retries),
        },
        log,
      )
    : undefined;
  const service = new ApprovalService({ store, log, notifier, publicUrl: a.public_url });
  service.startSweeper(a.sweep_ms);
  return service;
}

/**
 * The gauges other components own, sampled every few seconds: the spool backlog and the
 * Elasticsearch failures the sink counted, and the tickets waiting for a review.
 */
function watchGauges(
  metrics: ReturnType<typeof createMetrics>,
  esSink: ElasticsearchSink | undefined,
  approvals: ApprovalService | undefined,
): NodeJS.Timeout {
  let seenRetries = 0;
  let tick = 0;
  const t = setInterval(() => {
    if (esSink) {
      const st = esSink.status();
      metrics.spoolBacklog.set(st.spool_bytes);
      // Each retry of a bulk request is one that failed (429, 5xx or unreachable).
      for (; seenRetries < st.retries; seenRetries++) metrics.esErrors.inc('bulk');
    }
    if (approvals && tick++ % 5 === 0) {
      approvals.countPending().then(
        (n) => metrics.approvalsHeld.set(n),
        () => metrics.esErrors.inc('ticket'),
      );
    }
  }, 2000);
  t.unref();
  return t;
}
