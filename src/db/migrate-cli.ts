import { configOrExit } from '../server.ts';
import { openDatabase } from '../platform/db/client.ts';

const config = configOrExit();
const database = await openDatabase(config);
try {
  const { applied } = await database.migrate();
  process.stdout.write(`${database.tier} database: ${applied} migration(s) applied\n`);
} finally {
  await database.close();
}
