import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { useTestApp } from '../harness.ts';

const t = useTestApp();

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('declares a response schema and schemas for inputs on every product route', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/.well-known/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }>; security?: unknown }>>;
    };
    const routes = Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/'));
    expect(routes.length).toBeGreaterThan(3);
    for (const [path, ops] of routes) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses ?? {});
        expect(statuses.length, `${method.toUpperCase()} ${path} declares no response`).toBeGreaterThan(0);
      }
    }
  });

  it('serves the same document as YAML', async () => {
    const json = (await t.app.inject({ method: 'GET', url: '/.well-known/openapi.json' })).json();
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/openapi.yaml' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/yaml/);
    expect(YAML.parse(res.body)).toEqual(json);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    for (const url of ['/.well-known/openapi.json', '/.well-known/openapi.yaml']) {
      const first = await t.app.inject({ method: 'GET', url });
      const etag = first.headers.etag as string;
      expect(etag).toMatch(/^".+"$/);
      const again = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe('');
      const other = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': '"something-else"' } });
      expect(other.statusCode).toBe(200);
    }
  });

  it('offers a readable reference page at /docs', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    if (res.statusCode >= 300 && res.statusCode < 400) res = await t.app.inject({ method: 'GET', url: res.headers.location as string });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger/i);
  });
});
