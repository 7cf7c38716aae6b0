#!/usr/bin/env node
// The `callguard` command.

import { parseArgs } from 'node:util';
import { ConfigError, envOverrides, loadConfig } from '../config/config.js';
import { PolicyLoadError } from '../policy/load.js';
import { formatDiagnostic, lintPolicy } from '../policy/lint.js';
import { serve } from './serve.js';

const USAGE = `usage:
  callguard serve [--config callguard.yaml] [--grpc-addr host:port] [--admin-addr host:port]
                  [--policies path[,path…]] [--log-level level]
  callguard policy lint [--strict] <policy file or directory>…
  callguard stack            start the local stack (Envoy + callguard + demo endpoint)
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
    case 'stack': {
      const { runStack } = await import('./stack.js');
      await runStack();
      return -1;
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
    if (e instanceof PolicyLoadError || e instanceof ConfigError) {
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
