/**
 * The broker's signing keys: one `current` (signs), one `next` (published ahead
 * so verifiers already hold it when it takes over) and `retired` keys, published
 * until every token they signed has expired. Private halves are sealed under the
 * KEK and erased on retirement.
 */
import { appendAuditMany } from '../audit/append.ts';
import { and, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { importJWK, type JSONWebKeySet } from 'jose';
import type { SigningAlg } from '../config.ts';
import type { Clock } from '../clock.ts';
import type { Database, Tx } from '../db/database.ts';
import { signingKeys, tenants } from '../db/schema.ts';
import { nameTenant } from '../db/tenancy.ts';
import { generateSigningKey } from './generate.ts';
import { openPrivateJwk, sealPrivateJwk } from './seal.ts';

export interface KeyStoreOptions {
  alg: SigningAlg;
  /** Longest lifetime of anything we sign, in seconds: how long a retired key stays published. */
  maxTokenTtl: number;
  /** Added to maxTokenTtl to cover verifiers whose clocks lag. */
  clockSkew: number;
  /** Rotate when the current key is older than this many days; 0 never. */
  rotationDays: number;
  clock: Clock;
  /** How long a process trusts its cached view of the keys; other instances may rotate. */
  cacheMs?: number;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
}

export class KeyStoreError extends Error {
  readonly code = 'ERR_KEYS';
}

/** Serialises rotations across broker instances sharing one database. */
const KEY_LOCK = 0x6b657973; // "keys"

export class KeyStore {
  private cached: { at: number; signer: SigningKey } | undefined;

  constructor(
    private readonly db: Database,
    private readonly kek: Uint8Array,
    private readonly options: KeyStoreOptions,
  ) {}

  /** Creates the current and next keys when missing; replaces an unused next key of another alg. */
  async ensure(): Promise<void> {
    await this.locked(async (tx) => {
      const live = await tx
        .select()
        .from(signingKeys)
        .where(inArray(signingKeys.status, ['current', 'next']));
      const now = this.options.clock.now();
      if (!live.some((k) => k.status === 'current')) {
        await this.insert(tx, 'current', now);
      }
      const next = live.find((k) => k.status === 'next');
      if (next && next.alg !== this.options.alg) {
        // A next key has never signed anything, so dropping it loses nothing.
        await tx.delete(signingKeys).where(eq(signingKeys.kid, next.kid));
      }
      if (!next || next.alg !== this.options.alg) {
        await this.insert(tx, 'next', now);
      }
    });
    this.cached = undefined;
  }

  /** Promotes next to current, retires current, pre-publishes a new next. */
  async rotate(): Promise<{ kid: string }> {
    const kid = await this.locked(async (tx) => {
      const now = this.options.clock.now();
      const live = await tx
        .select()
        .from(signingKeys)
        .where(inArray(signingKeys.status, ['current', 'next']));
      const current = live.find((k) => k.status === 'current');
      const next = live.find((k) => k.status === 'next');
      if (current) {
        const publishUntil = new Date(
          now.getTime() + (this.options.maxTokenTtl + this.options.clockSkew) * 1000,
        );
        await tx
          .update(signingKeys)
          .set({ status: 'retired', retiredAt: now, publishUntil, privateJwe: null })
          .where(eq(signingKeys.kid, current.kid));
      }
      let promoted: string;
      if (next && next.alg === this.options.alg) {
        await tx
          .update(signingKeys)
          .set({ status: 'current', activatedAt: now })
          .where(eq(signingKeys.kid, next.kid));
        promoted = next.kid;
      } else {
        if (next) await tx.delete(signingKeys).where(eq(signingKeys.kid, next.kid));
        promoted = await this.insert(tx, 'current', now);
      }
      await this.insert(tx, 'next', now);
      // Keys serve every tenant, and each tenant's ledger is a chain of its own: the entry
      // is written in each tenant's scope in turn (row-level security, src/db/tenancy.ts).
      const everyone = await tx.select({ id: tenants.id }).from(tenants);
      for (const t of everyone) {
        await nameTenant(tx, t.id);
        await appendAuditMany(tx, [
          {
            tenantId: t.id,
            at: now,
            action: 'key.rotated',
            actor: 'broker',
            subject: `key:${promoted}`,
            inputs: { retired: current?.kid ?? null, alg: this.options.alg },
          },
        ]);
      }
      return promoted;
    });
    this.cached = undefined;
    return { kid };
  }

  /** Rotates when the current key has reached the configured age; returns the new kid if so. */
  async rotateIfDue(): Promise<string | null> {
    if (this.options.rotationDays <= 0) return null;
    const [current] = await this.db
      .select({ activatedAt: signingKeys.activatedAt })
      .from(signingKeys)
      .where(eq(signingKeys.status, 'current'));
    const now = this.options.clock.now().getTime();
    const since = current?.activatedAt?.getTime() ?? 0;
    if (current && now - since < this.options.rotationDays * 86_400_000) return null;
    return (await this.rotate()).kid;
  }

  /** The key to sign with now. Cached briefly; never returns a retired key's private half. */
  async signer(): Promise<SigningKey> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? 30_000)) {
      return this.cached.signer;
    }
    const [row] = await this.db.select().from(signingKeys).where(eq(signingKeys.status, 'current'));
    if (!row?.privateJwe) throw new KeyStoreError('no current signing key; run `keys rotate`');
    let signer = this.cached?.signer;
    if (signer?.kid !== row.kid) {
      const jwk = await openPrivateJwk(row.privateJwe, this.kek, row.kid);
      const key = await importJWK(jwk, row.alg, { extractable: false });
      if (key instanceof Uint8Array) throw new KeyStoreError('a signing key must be asymmetric');
      signer = { kid: row.kid, alg: row.alg as SigningAlg, key };
    }
    this.cached = { at: now, signer };
    return signer;
  }

  /** The public JWK Set: current, next, and retired keys still covering unexpired tokens. */
  async jwks(): Promise<JSONWebKeySet> {
    const now = this.options.clock.now();
    const rows = await this.db
      .select({ publicJwk: signingKeys.publicJwk, status: signingKeys.status })
      .from(signingKeys)
      .where(
        or(
          inArray(signingKeys.status, ['current', 'next']),
          and(eq(signingKeys.status, 'retired'), gt(signingKeys.publishUntil, now)),
        ),
      )
      .orderBy(sql`case ${signingKeys.status} when 'current' then 0 when 'next' then 1 else 2 end`);
    return { keys: rows.map((r) => r.publicJwk) };
  }

  private async insert(tx: Tx, status: 'current' | 'next', now: Date): Promise<string> {
    const generated = await generateSigningKey(this.options.alg);
    await tx.insert(signingKeys).values({
      kid: generated.kid,
      alg: generated.alg,
      status,
      publicJwk: generated.publicJwk,
      privateJwe: await sealPrivateJwk(generated.privateJwk, this.kek, generated.kid),
      createdAt: now,
      activatedAt: status === 'current' ? now : null,
    });
    return generated.kid;
  }

  private locked<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${KEY_LOCK})`);
      return work(tx);
    });
  }
}
