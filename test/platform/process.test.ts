import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKEND } from '../harness.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  logs: () => Array<Record<string, unknown>>;
  exit: Promise<number | null>;
}

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    exit,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

async function healthy(port: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (res.ok) return (await res.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('never became healthy');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start on the embedded database', () => {
  it.runIf(BACKEND === 'embedded')('starts on a fresh DATA_DIR, stops cleanly on SIGTERM and keeps its data across a restart', { timeout: 120_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-start-'));
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'development' };
    delete (process.env as Record<string, string | undefined>).DATABASE_URL;

    const first = start(env);
    const health = await healthy(port, 60_000);
    expect(health).toMatchObject({ status: 'ok', tier: 'embedded', database: { status: 'ok' }, vector_search: { available: true } });
    const jwks1 = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(first.logs().some((l) => l.msg === 'database migrated')).toBe(true);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(first.logs().some((l) => l.msg === 'shutdown complete')).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'secrets', 'encryption.key'))).toBe(true);

    const second = start(env);
    await healthy(port, 60_000);
    const migrated = second.logs().find((l) => typeof l.migrations_applied === 'number');
    expect(migrated).toMatchObject({ migrations_applied: 0, msg: 'database schema is current' });
    const jwks2 = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks2.keys.map((k) => k.kid)).toEqual(jwks1.keys.map((k) => k.kid));
    second.child.kill('SIGINT');
    expect(await second.exit).toBe(0);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('migrations', () => {
  it('a second migrate over a migrated database applies nothing', async () => {
    const { freshDatabase } = await import('../harness.ts');
    const { database } = await freshDatabase();
    try {
      expect(await database.migrate()).toEqual({ applied: 0 });
      expect(await database.migrate()).toEqual({ applied: 0 });
    } finally {
      await database.close();
    }
  });
});
