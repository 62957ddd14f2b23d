import { describe, expect, it } from 'vitest';
import { BACKEND, useTestApp } from '../harness.ts';

const t = useTestApp();

describe('health', () => {
  it('reports status, version, tier, database and vector search', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('ok');
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.tier).toBe(BACKEND === 'embedded' ? 'embedded' : 'server');
    expect(body.database.status).toBe('ok');
    expect(typeof body.vector_search.available).toBe('boolean');
    // PGlite always has pgvector; the local PostgreSQL here does not ship it.
    if (BACKEND === 'embedded') expect(body.vector_search.available).toBe(true);
    else expect(body.vector_search.available).toBe(await t.database.hasVector());
    if (!body.vector_search.available) expect(body.vector_search.reason).toMatch(/pgvector/);
  });

  it('reports the database with its migrations', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/health/db' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ status: 'ok', backend: BACKEND === 'embedded' ? 'pglite' : 'postgresql' });
    expect(body.migrations_applied).toBeGreaterThan(0);
    expect(body.server_version).toMatch(/^1[5-9]/);
  });
});
