#!/usr/bin/env node
// The `callguard` command.

import { parseArgs } from 'node:util';
import { ConfigError, envOverrides, loadConfig } from '../config/config.js';
import { loadPolicy, PolicyLoadError } from '../policy/load.js';
import { formatDiagnostic, lintPolicy } from '../policy/lint.js';
import { serve } from './serve.js';
import { FingerprintKeyError } from '../audit/fingerprint.js';

const USAGE = `usage:
  callguard serve [--config callguard.yaml] [--grpc-addr host:port] [--admin-addr host:port]
                  [--policies path[,path…]] [--log-level level]
  callguard policy lint [--strict] <policy file or directory>…
  callguard policy explain <route> <payload.json> [--policies dir[,file…]] [--direction request|response]
                   [--groups a,b] [--function name]
  callguard kibana import --kibana-url URL [--file callguard.ndjson] [--space id]
                            load the audit's Kibana saved objects (KIBANA_API_KEY for auth)
  callguard config reference  print the configuration reference (docs/configuration.md)
  callguard detectors reference
                             print the built-in detectors and packs (the table in docs/detectors.md)
  callguard stack            start the local stack (Envoy + callguard + Elasticsearch + demo endpoint
                             + demo identity provider for the admin page)
  callguard demo endpoint [--host 127.0.0.1] [--port 8081]
  callguard demo idp [--host 127.0.0.1] [--port 8082] [--issuer URL] [--audience callguard-demo]
                    [--redirect-uri http://127.0.0.1:9090/ui/callback …]
                              DEMO ONLY: the demo function endpoint, and an OIDC issuer that
                              signs a token for anyone (docker-compose demo) and signs the
                              demo users in to the admin page (code + PKCE, client callguard-admin)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string', default: 'callguard.yaml' },
          'grpc-addr': { type: 'string' },
          'admin-addr': { type: 'string' },
          policies: { type: 'string' },
          'log-level': { type: 'string' },
        },
      });
      const config = loadConfig(
        values.config,
        [
          envOverrides(process.env),
          {
            grpc_addr: values['grpc-addr'],
            admin_addr: values['admin-addr'],
            policies: values.policies?.split(','),
            log_level: values['log-level'],
          },
        ],
        // Running without a config file uses the defaults of the design.
        { optional: values.config === 'callguard.yaml' },
      );
      await serve(config);
      return -1; // keep running
    }
    case 'policy': {
      const [sub, ...args] = rest;
      if (sub === 'explain') {
        const { values, positionals } = parseArgs({
          args,
          allowPositionals: true,
          options: {
            policies: { type: 'string', default: 'policies' },
            direction: { type: 'string', default: 'request' },
            groups: { type: 'string', default: '' },
            function: { type: 'string' },
          },
        });
        const [route, payloadFile] = positionals;
        if (
          !route ||
          !payloadFile ||
          (values.direction !== 'request' && values.direction !== 'response')
        )
          break;
        const { explain } = await import('./explain.js');
        const r = explain(loadPolicy(values.policies.split(',')), {
          route,
          payloadFile,
          direction: values.direction,
          groups: values.groups.split(',').filter((g) => g !== ''),
          function: values.function,
        });
        process.stdout.write(r.text);
        return r.exitCode;
      }
      if (sub !== 'lint') break;
      const { values, positionals } = parseArgs({
        args,
        options: { strict: { type: 'boolean', default: false } },
        allowPositionals: true,
      });
      if (positionals.length === 0) break;
      const report = lintPolicy(positionals);
      for (const d of report.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
      const errors = report.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = report.diagnostics.length - errors;
      if (report.counts && errors === 0) {
        const c = report.counts;
        const w = warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : '';
        process.stdout.write(
          `ok: ${c.routes} routes, ${c.functions} functions, ${c.rules} rules${w}\n`,
        );
      }
      return errors > 0 || (values.strict && warnings > 0) ? 1 : 0;
    }
    case 'kibana': {
      const [sub, ...args] = rest;
      if (sub !== 'import') break;
      const { values } = parseArgs({
        args,
        options: {
          'kibana-url': { type: 'string' },
          file: { type: 'string' },
          space: { type: 'string' },
        },
      });
      if (!values['kibana-url']) break;
      const { kibanaImport } = await import('./kibana.js');
      try {
        const r = await kibanaImport({
          kibanaUrl: values['kibana-url'],
          file: values.file,
          space: values.space,
          apiKey: process.env.KIBANA_API_KEY,
        });
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return r.success ? 0 : 1;
      } catch (e) {
        process.stderr.write(`callguard: kibana import failed: ${(e as Error).message}\n`);
        return 1;
      }
    }
    case 'config': {
      if (rest[0] !== 'reference') break;
      const { configReference } = await import('../config/reference.js');
      process.stdout.write(configReference());
      return 0;
    }
    case 'detectors': {
      if (rest[0] !== 'reference') break;
      const { detectorsReference } = await import('../detect/reference.js');
      process.stdout.write(detectorsReference());
      return 0;
    }
    case 'stack': {
      const { runStack } = await import('./stack.js');
      await runStack();
      return -1;
    }
    case 'demo': {
      const [what, ...args] = rest;
      const { values } = parseArgs({
        args,
        options: {
          host: { type: 'string', default: '127.0.0.1' },
          port: { type: 'string' },
          issuer: { type: 'string' },
          audience: { type: 'string' },
          'redirect-uri': { type: 'string', multiple: true },
        },
      });
      if (what === 'endpoint') {
        const { startDemoUpstream } = await import('./demo-upstream.js');
        const up = await startDemoUpstream(
          Number(values.port ?? 8081),
          // The demo endpoint shows what got past callguard: that is its purpose.
          (r) => process.stdout.write(`${r.method} ${r.path} ${r.body.toString('utf8')}\n`),
          values.host,
        );
        process.stdout.write(`demo endpoint on ${values.host}:${up.port}\n`);
        return -1;
      }
      if (what === 'idp') {
        const { DEMO_CLIENT, startDemoIdp } = await import('./demo-idp.js');
        const idp = await startDemoIdp({
          host: values.host,
          port: Number(values.port ?? 8082),
          issuer: values.issuer,
          audience: values.audience,
          ...(values['redirect-uri']
            ? { client: { id: DEMO_CLIENT.id, redirectUris: values['redirect-uri'] } }
            : {}),
        });
        process.stdout.write(`DEMO ONLY identity provider ${idp.issuer} on port ${idp.port}\n`);
        return -1;
      }
      break;
    }
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    if (
      e instanceof PolicyLoadError ||
      e instanceof ConfigError ||
      e instanceof FingerprintKeyError
    ) {
      process.stderr.write(`callguard: ${e.message}\n`);
      process.exit(1);
    }
    // Not the message: an unexpected error could quote input.
    process.stderr.write(
      `callguard: unexpected ${(e as Error).name ?? 'error'}\n${(e as Error).stack ?? ''}\n`,
    );
    process.exit(1);
  },
);
