import { configOrExit, handleSignals, startProcess } from './server.ts';
import { createLogger } from './platform/observability/logger.ts';

const config = configOrExit();
const log = createLogger(config.logLevel);
try {
  const running = await startProcess(config, { listen: true, log });
  handleSignals(running, log);
} catch (err) {
  log.fatal({ err }, 'Tadween could not start');
  process.exit(1);
}
