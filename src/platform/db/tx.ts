import type { Db, Tx } from './client.ts';

/** Runs `fn` in a transaction, or inside the caller's transaction when one is given. */
export async function inTx<T>(db: Db, tx: Tx | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (tx) return fn(tx);
  return db.transaction((t) => fn(t as unknown as Tx));
}
