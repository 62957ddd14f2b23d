import type { Logger } from 'pino';
import { buildApp, type App, type Deps } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase, type Database } from './platform/db/client.ts';
import { createLogger } from './platform/observability/logger.ts';

/** A running process: the app, its platform, and how to stop it cleanly. */
export interface Running {
  app: App;
  deps: Deps;
  stop(reason: string): Promise<void>;
}

/** Reads the configuration or prints each problem on its own line and exits non-zero. */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`config error: ${p}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Opens and migrates the database, builds the app and starts the job workers. */
export async function startProcess(config: Config, opts: { listen: boolean; log?: Logger }): Promise<Running> {
  const log = opts.log ?? createLogger(config.logLevel);
  let database: Database | undefined;
  try {
    database = await openDatabase(config);
    const { applied } = await database.migrate();
    log.info({ tier: database.tier, migrations_applied: applied }, applied > 0 ? 'database migrated' : 'database schema is current');
    if (!(await database.hasVector())) {
      log.warn('pgvector is not installed in this PostgreSQL database: vector search is unavailable and search runs lexically only (install pgvector to enable it)');
    }
    const { app, deps } = await buildApp(config, database, { logger: log });
    await app.ready();
    await deps.jobs.start({ work: true });
    deps.outbox.start();
    if (opts.listen) await app.listen({ port: config.port, host: config.host });

    let stopping: Promise<void> | undefined;
    const db = database;
    const stop = (reason: string) =>
      (stopping ??= (async () => {
        log.info({ reason }, 'shutting down: no new requests; finishing those in flight');
        await app.close();
        await deps.outbox.stop();
        await deps.jobs.stop();
        await db.close();
        log.info('shutdown complete');
      })());
    return { app, deps, stop };
  } catch (err) {
    await database?.close().catch(() => undefined);
    throw err;
  }
}

/** Stops cleanly on SIGTERM or SIGINT; a second signal exits at once. */
export function handleSignals(running: Running, log: Logger): void {
  let signalled = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (signalled) process.exit(130);
      signalled = true;
      running
        .stop(sig)
        .then(() => process.exit(0))
        .catch((err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        });
    });
  }
}
