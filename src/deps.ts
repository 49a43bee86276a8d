/** What the app is built from: every runtime difference lives behind these. */
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { KeyStore } from './keys/key-store.ts';

export interface Deps {
  config: Config;
  database: DatabaseHandle;
  keys: KeyStore;
  clock: Clock;
  /** Where operational messages go; defaults to console.error in the Node entry. */
  log: (message: string) => void;
}
