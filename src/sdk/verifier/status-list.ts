/**
 * The revocation fallback when no live event stream vouches for a token: its
 * Token Status List (draft-ietf-oauth-status-list §8). Only lists under
 * `${issuer}/status/` are fetched (a token must not send the verifier anywhere
 * else), each is verified with the broker's keys as a `statuslist+jwt` about itself
 * (`sub` = its URI), and kept for its `ttl` (§13.7), never past its `exp`. One
 * fetch per list at a time, however many requests wait for it; when a refresh
 * fails, the copy in hand serves until its `exp` and not a moment longer.
 */
import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { TOKEN_ALGS } from './access-token.ts';
import { BrokerError } from './broker-error.ts';
import { VerifierError, type AuthScheme } from './errors.ts';
import { inflateList, isStatusBits, statusAt, type DecodedStatusList } from './status-bits.ts';

export const STATUS_LIST_TYP = 'statuslist+jwt';
/** Without a `ttl`, a list is fetched again after this many seconds. */
const DEFAULT_TTL = 60;
const MAX_REMEMBERED_URIS = 1024;

interface CachedList {
  list: DecodedStatusList;
  freshUntil: number;
  expiresAt: number;
}

export interface StatusListDeps {
  issuer: string;
  fetch: typeof fetch;
  getKey: JWTVerifyGetKey;
  now: () => number;
  leeway: number;
}

export class StatusLists {
  private readonly cache = new Map<string, CachedList>();
  private readonly inflight = new Map<string, Promise<CachedList>>();
  private readonly prefix: string;
  /** URIs that passed the check: parsing a URL per request costs more than the rest of it. */
  private readonly goodUris = new Set<string>();

  constructor(private readonly deps: StatusListDeps) {
    this.prefix = `${deps.issuer}/status/`;
  }

  /**
   * The token's status from its list; throws VerifierError when it cannot be told.
   * Synchronous (no promise) while the list is cached and fresh: the common case.
   */
  isRevoked(status: unknown, scheme: AuthScheme): boolean | Promise<boolean> {
    const { uri, idx } = this.entryOf(status, scheme);
    const cached = this.cache.get(uri);
    if (cached && this.deps.now() < cached.freshUntil) return this.bitOf(cached, idx, scheme);
    return this.listFor(uri, scheme).then((list) => this.bitOf(list, idx, scheme));
  }

  private bitOf(cached: CachedList, idx: number, scheme: AuthScheme): boolean {
    const value = statusAt(cached.list, idx);
    if (value === undefined) {
      throw new VerifierError(
        'ERR_STATUS_UNAVAILABLE',
        'invalid_token',
        'the token’s status index lies outside its status list',
        { scheme },
      );
    }
    return value !== 0;
  }

  /** §6.1 `status.status_list` with a URI under this issuer's /status/, and nothing odd in it. */
  private entryOf(status: unknown, scheme: AuthScheme): { uri: string; idx: number } {
    const entry = (status as { status_list?: { uri?: unknown; idx?: unknown } } | undefined)
      ?.status_list;
    const { uri, idx } = entry ?? {};
    if (typeof uri !== 'string' || !Number.isSafeInteger(idx) || (idx as number) < 0) {
      throw new VerifierError(
        'ERR_STATUS_UNAVAILABLE',
        'invalid_token',
        'the token carries no usable status list entry',
        { scheme },
      );
    }
    if (this.goodUris.has(uri)) return { uri, idx: idx as number };
    // The parsed form must be the form given: no dot segments, escapes or userinfo tricks.
    const exact = URL.canParse(uri) && new URL(uri).href === uri;
    if (!exact || !uri.startsWith(this.prefix) || /[?#]/.test(uri)) {
      throw new VerifierError(
        'ERR_STATUS_LIST_URI',
        'invalid_token',
        `the token’s status list must be under ${this.prefix}`,
        { scheme },
      );
    }
    // Bounded: a flood of distinct (signed, so broker-made) URIs cannot grow it without end.
    if (this.goodUris.size >= MAX_REMEMBERED_URIS) this.goodUris.clear();
    this.goodUris.add(uri);
    return { uri, idx: idx as number };
  }

  private async listFor(uri: string, scheme: AuthScheme): Promise<CachedList> {
    const now = this.deps.now();
    const cached = this.cache.get(uri);
    if (cached && now < cached.freshUntil) return cached;
    try {
      return await this.refresh(uri);
    } catch (cause) {
      if (cached && now < cached.expiresAt) return cached;
      throw new VerifierError(
        'ERR_STATUS_UNAVAILABLE',
        'invalid_token',
        'the token’s revocation status could not be checked',
        { scheme, cause },
      );
    }
  }

  private refresh(uri: string): Promise<CachedList> {
    let pending = this.inflight.get(uri);
    if (!pending) {
      pending = this.fetchList(uri).finally(() => this.inflight.delete(uri));
      this.inflight.set(uri, pending);
    }
    return pending;
  }

  private async fetchList(uri: string): Promise<CachedList> {
    const res = await this.deps.fetch(uri, {
      headers: { accept: 'application/statuslist+jwt' },
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new BrokerError('ERR_BROKER_REFUSED', `${uri} answered ${res.status}`, {
        status: res.status,
      });
    }
    const jwt = await res.text();
    const now = this.deps.now();
    const { payload } = await jwtVerify(jwt, this.deps.getKey, {
      algorithms: TOKEN_ALGS,
      typ: STATUS_LIST_TYP,
      issuer: this.deps.issuer,
      subject: uri,
      requiredClaims: ['iat', 'sub'],
      clockTolerance: this.deps.leeway,
      currentDate: new Date(now),
    });
    const sl = payload.status_list as { bits?: unknown; lst?: unknown } | undefined;
    if (!sl || !isStatusBits(sl.bits) || typeof sl.lst !== 'string') {
      throw new BrokerError('ERR_BROKER_REFUSED', `${uri} holds no usable status_list`);
    }
    const list = { bits: sl.bits, bytes: await inflateList(sl.lst) };
    const ttl = typeof payload.ttl === 'number' && payload.ttl >= 0 ? payload.ttl : DEFAULT_TTL;
    const expiresAt =
      typeof payload.exp === 'number' ? (payload.exp + this.deps.leeway) * 1000 : Infinity;
    const entry = { list, expiresAt, freshUntil: Math.min(now + ttl * 1000, expiresAt) };
    this.cache.set(uri, entry);
    return entry;
  }
}
