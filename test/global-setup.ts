import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openEmbedded, openServer, type Database } from '../src/platform/db/client.ts';
import { Jobs } from '../src/platform/jobs/jobs.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

/** Migrates once, and installs the job queue's schema, into the template every test file copies. */
async function prepare(database: Database): Promise<void> {
  await database.migrate();
  const jobs = new Jobs(database, createLogger('silent'));
  await jobs.start({ work: false });
  await jobs.stop();
}

export default async function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-test-'));
  const embedded = await openEmbedded('memory://');
  await prepare(embedded);
  const dump = await embedded.pglite!.dumpDataDir('none');
  const dumpFile = path.join(dir, 'template.tar');
  fs.writeFileSync(dumpFile, Buffer.from(await dump.arrayBuffer()));
  await embedded.close();
  project.provide('pgliteTemplate', dumpFile);

  const url = process.env.TEST_DATABASE_URL;
  let template: string | undefined;
  if (url) {
    template = `tadween_tpl_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
    await admin.end();
    const u = new URL(url);
    u.pathname = `/${template}`;
    const server = openServer(u.toString(), { max: 2 });
    await prepare(server);
    await server.close();
    project.provide('pgTemplate', template);
  }

  return async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (url && template) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`, [`${template}_f_%`, template]);
      for (const r of rows) await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
      await admin.end();
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    pgTemplate: string;
  }
}
