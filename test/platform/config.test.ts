import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createSealer, loadEncryptionKey } from '../../src/platform/crypto/secrets.ts';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
};

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 5001, host: '0.0.0.0', publicUrl: 'http://localhost:5001', nodeEnv: 'development', logLevel: 'info', defaultPlan: 'trial' });
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.databaseUrl).toBeUndefined();
    expect(c.webhookRetrySchedule).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(c.llm).toBeUndefined();
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DEFAULT_PLAN: 'gold' }, 'DEFAULT_PLAN'],
    [{ METRICS_BASIC_AUTH: 'nopass' }, 'METRICS_BASIC_AUTH'],
    [{ WEBHOOK_RETRY_SCHEDULE: '5,x' }, 'WEBHOOK_RETRY_SCHEDULE'],
    [{ ENCRYPTION_KEY: 'short' }, 'ENCRYPTION_KEY'],
    [{ LLM_BASE_URL: 'http://127.0.0.1:1/v1' }, 'LLM_MODEL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ WEBHOOKS_ALLOW_PRIVATE: 'perhaps' }, 'WEBHOOKS_ALLOW_PRIVATE'],
  ])('reports %o as one line naming %s', (env, name) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it('lists every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', DEFAULT_PLAN: 'gold' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DEFAULT_PLAN', 'LOG_LEVEL', 'PORT']);
  });

  it('requires explicit secrets in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.some((p) => p.startsWith('ENCRYPTION_KEY:'))).toBe(true);
    const ok = loadConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), PUBLIC_URL: 'https://tadween.example.com' });
    expect(ok.nodeEnv).toBe('production');
  });

  it('makes the process exit non-zero with a line naming the variable', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, PORT: 'abc', LOG_LEVEL: 'loud' }, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/PORT: expected an integer/);
    expect(r.stderr).toMatch(/LOG_LEVEL: expected one of/);
  });
});

describe('secrets at rest', () => {
  it('seals and opens, and detects tampering', () => {
    const sealer = createSealer(Buffer.alloc(32, 1));
    const sealed = sealer.seal('sk-very-secret');
    expect(sealed).not.toContain('sk-very-secret');
    expect(sealer.open(sealed)).toBe('sk-very-secret');
    expect(sealer.seal('x')).not.toBe(sealer.seal('x'));
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => sealer.open(parts.join('.'))).toThrow();
    expect(() => createSealer(Buffer.alloc(32, 2)).open(sealed)).toThrow();
  });

  it('generates the embedded key once, owner-only, and reuses it', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-key-'));
    const a = loadEncryptionKey({ dataDir, nodeEnv: 'development' });
    const file = path.join(dataDir, 'secrets', 'encryption.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const b = loadEncryptionKey({ dataDir, nodeEnv: 'development' });
    expect(b.equals(a)).toBe(true);
    expect(a).toHaveLength(32);
    expect(() => loadEncryptionKey({ dataDir, nodeEnv: 'production' })).toThrow(/ENCRYPTION_KEY/);
  });
});
