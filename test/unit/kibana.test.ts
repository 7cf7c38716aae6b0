// The shipped Kibana saved objects (Kibana cannot run here): every line parses, ids are
// unique, every reference resolves, every field the objects use exists in the index
// template, and the data view covers the template's indices. `callguard kibana import`
// is checked in test/integration/kibana-import.test.ts (it runs dist/).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KIBANA_OBJECTS } from '../../src/cli/kibana.js';
import { SESSION_MAPPINGS, sessionTemplate } from '../../src/audit/template.js';
import { anyOf } from '../support/matchers.js';

interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: string; id: string }[];
}

const text = readFileSync(KIBANA_OBJECTS, 'utf8');
const objects = text
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as SavedObject);

/** Dotted field paths of the template's mappings (nested and object fields included). */
function fields(props: Record<string, unknown>, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(props)) {
    const path = prefix + k;
    out.add(path);
    const sub = (v as { properties?: Record<string, unknown> }).properties;
    if (sub) for (const f of fields(sub, `${path}.`)) out.add(f);
  }
  return out;
}
const known = fields(SESSION_MAPPINGS.properties);

function searchSource(o: SavedObject): { query: { query: string }; indexRefName?: string } {
  const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string };
  return JSON.parse(meta.searchSourceJSON) as { query: { query: string }; indexRefName?: string };
}

describe('kibana/callguard.ndjson', () => {
  it('every line is a saved object; ids are unique per type', () => {
    expect(text.endsWith('\n')).toBe(true);
    expect(objects.length).toBeGreaterThanOrEqual(6);
    for (const o of objects) {
      expect(o).toMatchObject({ type: anyOf(String), id: anyOf(String) });
      expect(Array.isArray(o.references)).toBe(true);
    }
    const keys = objects.map((o) => `${o.type}:${o.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(objects.map((o) => o.type).sort()).toEqual([
      'dashboard',
      'index-pattern',
      'search',
      'search',
      'search',
      'search',
    ]);
  });

  it('every reference resolves to an object in the file, and every ref name is used', () => {
    const keys = new Set(objects.map((o) => `${o.type}:${o.id}`));
    for (const o of objects) {
      for (const r of o.references)
        expect(keys, `${o.id} → ${r.type}:${r.id}`).toContain(`${r.type}:${r.id}`);
      if (o.type === 'search') {
        const ref = searchSource(o).indexRefName;
        expect(o.references.map((r) => r.name)).toContain(ref);
      }
      if (o.type === 'dashboard') {
        const panels = JSON.parse(o.attributes.panelsJSON as string) as { panelRefName: string }[];
        expect(panels.map((p) => p.panelRefName).sort()).toEqual(
          o.references.map((r) => r.name).sort(),
        );
      }
    }
  });

  it('the data view covers the template indices and its time field exists', () => {
    const view = objects.find((o) => o.type === 'index-pattern')!;
    expect([view.attributes.title]).toEqual(sessionTemplate('callguard-sessions').index_patterns);
    expect(known).toContain(view.attributes.timeFieldName);
  });

  it('every field a saved search uses (columns, sort, query) is in the index template', () => {
    for (const o of objects.filter((x) => x.type === 'search')) {
      const used = new Set<string>();
      for (const c of o.attributes.columns as string[]) used.add(c);
      for (const [f] of o.attributes.sort as [string, string][]) used.add(f);
      for (const m of searchSource(o).query.query.matchAll(/([A-Za-z_@][\w.@]*)\s*:/g))
        used.add(m[1]!);
      expect(used.size).toBeGreaterThan(0);
      for (const f of used) expect(known, `${o.id} uses ${f}`).toContain(f);
    }
  });

  it('every saved search shows trace.id, so a session can be joined to its trace', () => {
    for (const o of objects.filter((x) => x.type === 'search'))
      expect(o.attributes.columns, o.id).toContain('trace.id');
  });
});
