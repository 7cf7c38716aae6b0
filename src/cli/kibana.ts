// `callguard kibana import`: loads the shipped saved objects (data view on the session
// indices, saved searches, dashboard) into a Kibana 8.x through its saved objects import
// API (multipart, `overwrite=true`, `kbn-xsrf`). Credentials: `user:pass@` in the URL
// (basic auth) or an API key from KIBANA_API_KEY; never printed.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './envoy.js';

export const KIBANA_OBJECTS = join(PROJECT_ROOT, 'kibana', 'callguard.ndjson');

export interface KibanaImportOptions {
  kibanaUrl: string;
  file?: string;
  space?: string;
  apiKey?: string;
}

export interface KibanaImportResult {
  success: boolean;
  successCount: number;
  errors?: unknown[];
}

export async function kibanaImport(opts: KibanaImportOptions): Promise<KibanaImportResult> {
  const base = new URL(opts.kibanaUrl);
  const headers: Record<string, string> = { 'kbn-xsrf': 'true' };
  if (base.username) {
    const user = decodeURIComponent(base.username);
    const pass = decodeURIComponent(base.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    base.username = '';
    base.password = '';
  } else if (opts.apiKey) {
    headers.authorization = `ApiKey ${opts.apiKey}`;
  }
  const prefix = base.pathname.replace(/\/$/, '');
  const space = opts.space ? `/s/${encodeURIComponent(opts.space)}` : '';
  const url = new URL(`${prefix}${space}/api/saved_objects/_import?overwrite=true`, base);
  const form = new FormData();
  const file = opts.file ?? KIBANA_OBJECTS;
  form.append(
    'file',
    new Blob([readFileSync(file)], { type: 'application/ndjson' }),
    'callguard.ndjson',
  );
  const res = await fetch(url, { method: 'POST', headers, body: form });
  const text = await res.text();
  if (!res.ok) throw new Error(`Kibana answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as KibanaImportResult;
}
