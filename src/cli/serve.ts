// `callguard serve`: load config and policy (refusing to start on any error), start the
// gRPC and admin servers, reload the policy on change or SIGHUP, and drain on
// SIGTERM/SIGINT.

import { LogSink } from '../audit/record.js';
import type { Config } from '../config/config.js';
import { startAdmin } from '../admin/server.js';
import { startGrpc } from '../extproc/server.js';
import { createLogger } from '../log.js';
import { createMetrics, meteredSink } from '../metrics.js';
import { PolicyStore } from '../policy/reload.js';
import { Identifier } from '../identity/identify.js';

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.log.level);
  const metrics = createMetrics();
  const store = new PolicyStore({ paths: config.policies, log, metrics });
  const policy = () => store.current();
  let draining = false;
  const identifier = new Identifier(config.identity, config.dev.groups_header);
  const grpc = await startGrpc({
    config,
    log,
    sink: meteredSink(metrics, new LogSink(log)),
    identifier,
    policy,
    metrics,
  });
  const admin = await startAdmin({
    addr: config.admin_addr,
    policy: () => store.status(),
    draining: () => draining,
    metrics,
  });
  if (config.policy_reload.watch) store.watch(config.policy_reload.debounce_ms);
  process.on('SIGHUP', () => void store.reload('SIGHUP'));
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
    store.close();
    log.info({ signal, open_streams: grpc.openStreams() }, 'draining');
    await grpc.shutdown(config.shutdown_grace_ms);
    await admin.close();
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
