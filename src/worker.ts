import { configOrExit, handleSignals, startProcess } from './server.ts';
import { createLogger } from './platform/observability/logger.ts';

const config = configOrExit();
const log = createLogger(config.logLevel);
if (!config.databaseUrl) {
  log.fatal('npm run worker needs DATABASE_URL: the embedded database already runs its worker inside `npm start`');
  process.exit(2);
}
try {
  const running = await startProcess(config, { listen: false, log });
  log.info('worker started');
  handleSignals(running, log);
} catch (err) {
  log.fatal({ err }, 'worker could not start');
  process.exit(1);
}
