// `callguard serve`: load config and policy (refusing to start on any error), start the
// gRPC and admin servers, and drain on SIGTERM/SIGINT.

import { LogSink } from '../audit/record.js';
import { Client } from '@elastic/elasticsearch';
import { ApprovalService } from '../approval/service.js';
import { WebhookNotifier } from '../approval/notify.js';
import { TicketStore } from '../approval/store.js';
import { ConfigError, readTokenKeys, readWebhookSecret } from '../config/config.js';
import type { SessionSink } from '../audit/record.js';
import { ElasticsearchSink } from '../audit/es-sink.js';
import { Fingerprinter } from '../audit/fingerprint.js';
import { SessionStore } from '../audit/search.js';
import type { Config } from '../config/config.js';
import { Tokenizer } from '../enforce/tokenize.js';
import { startAdmin } from '../admin/server.js';
import { startGrpc } from '../extproc/server.js';
import { createLogger } from '../log.js';
import type { Logger } from '../log.js';
import { loadPolicy } from '../policy/load.js';
import { Identifier } from '../identity/identify.js';

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.log.level);
  const policy = loadPolicy(config.policies);
  let draining = false;
  const identifier = new Identifier(config.identity, config.dev.groups_header);
  const keys = readTokenKeys(config.tokenize);
  if (policy.needsTokenKeys && keys.length === 0) {
    throw new ConfigError('the policy tokenizes or detokenizes, but tokenize.keys is empty');
  }
  const tokenizer = keys.length > 0 ? new Tokenizer(keys) : undefined;
  const approvals = await startApprovals(config, log);
  const es = config.audit.elasticsearch;
  // Fingerprints exist for the Elasticsearch audit (the log sink never writes them).
  const fingerprinter = es ? Fingerprinter.fromConfig(config.audit.fingerprint) : undefined;
  const esSink = es
    ? new ElasticsearchSink({ ...config.audit, elasticsearch: es }, log)
    : undefined;
  const sink: SessionSink = esSink ?? new LogSink(log);
  const grpc = await startGrpc({
    approvals,
    config,
    log,
    sink,
    identifier,
    tokenizer,
    policy: () => policy,
    ...(fingerprinter ? { fingerprint: (v: string) => fingerprinter.of(v) } : {}),
  });
  const admin = await startAdmin({
    addr: config.admin_addr,
    policy: () => policy,
    draining: () => draining,
    approvals: {
      service: approvals,
      identifier,
      sources: config.admin.auth_sources,
      log,
    },
    ...(esSink ? { audit: () => esSink.status() } : {}),
    sessions: {
      store: esSink && es ? new SessionStore(esSink.es, es.index_prefix) : undefined,
      fingerprinter,
      identifier,
      admin: config.admin,
      log,
    },
  });
  log.info(
    {
      grpc_addr: config.grpc_addr,
      grpc_port: grpc.port,
      admin_addr: config.admin_addr,
      admin_port: admin.port,
      routes: policy.routes.length,
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

  const stop = async (signal: string) => {
    if (draining) return;
    draining = true;
    log.info({ signal, open_streams: grpc.openStreams() }, 'draining');
    await grpc.shutdown(config.shutdown_grace_ms);
    approvals?.stop();
    await admin.close();
    // Records not shipped within the grace stay in the spool for the next start.
    await esSink?.close(Math.min(config.shutdown_grace_ms, 5_000));
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The approval service over its Elasticsearch index, when one is configured. */
async function startApprovals(config: Config, log: Logger): Promise<ApprovalService | undefined> {
  const a = config.approvals;
  if (!a.elasticsearch_url) return undefined;
  const store = new TicketStore(
    new Client({ node: a.elasticsearch_url, requestTimeout: 10_000 }),
    a.index,
  );
  await store.ensureIndex();
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
