// `callguard kibana import` (from dist/) against a loopback HTTP server standing in for
// Kibana's saved-objects import endpoint.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/cli/envoy.js';
import { KIBANA_OBJECTS } from '../../src/cli/kibana.js';
import { matching } from '../support/matchers.js';

const text = readFileSync(KIBANA_OBJECTS, 'utf8');
const objects = text
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as unknown);

describe('callguard kibana import', () => {
  it('POSTs the file as multipart to the import API with overwrite and kbn-xsrf', async () => {
    const seen: { url?: string; headers?: Record<string, unknown>; body?: string } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        Object.assign(seen, {
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ success: true, successCount: objects.length }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [
        join(PROJECT_ROOT, 'dist/cli/main.js'),
        'kibana',
        'import',
        '--kibana-url',
        `http://elastic:pw@127.0.0.1:${port}/`,
        '--space',
        'audit',
      ]);
      expect(JSON.parse(stdout)).toEqual({ success: true, successCount: objects.length });
      expect(seen.url).toBe('/s/audit/api/saved_objects/_import?overwrite=true');
      expect(seen.headers).toMatchObject({
        'kbn-xsrf': 'true',
        authorization: `Basic ${Buffer.from('elastic:pw').toString('base64')}`,
        'content-type': matching(/^multipart\/form-data; boundary=/),
      });
      expect(seen.body).toContain('filename="callguard.ndjson"');
      expect(seen.body).toContain(text);
    } finally {
      server.close();
    }
  });
});
