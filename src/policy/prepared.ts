/**
 * Policy sets parsed once and kept inside Cedar (its `preparsePolicySet`, whose
 * cache lives in the wasm instance and has no eviction of its own). Sets live in a
 * bounded number of named slots, least recently used first out: a slot's name is
 * reused for the next set, which overwrites it, so memory stays bounded however
 * many tenants and versions come and go.
 *
 * Everything here is synchronous, so a slot cannot change between `ensure` and
 * the authorisation call that follows it in the same tick.
 */
import type { CedarApi } from './cedar.ts';
import { PolicyError } from './errors.ts';

export class PreparedSets {
  /** key → slot name, in least-recently-used order (Map keeps insertion order). */
  readonly #slots = new Map<string, string>();
  /** Slot names not holding a set (the parse into them failed). */
  readonly #free: string[] = [];
  #next = 0;
  /** Unique per instance: engines sharing one Cedar instance must not overwrite each other's sets. */
  readonly #prefix = `mandate-policy-${crypto.randomUUID()}`;

  constructor(
    private readonly cedar: CedarApi,
    private readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** The slot holding `policies` under `key`, parsing them into one if needed. */
  ensure(key: string, policies: Record<string, string>): string {
    const held = this.#slots.get(key);
    if (held !== undefined) {
      this.#slots.delete(key);
      this.#slots.set(key, held);
      return held;
    }
    let slot: string;
    const free = this.#free.pop();
    if (free !== undefined) {
      slot = free;
    } else if (this.#next < this.capacity) {
      slot = `${this.#prefix}-${this.#next++}`;
    } else {
      const [oldest] = this.#slots;
      if (!oldest) throw new Error('unreachable: full slot table without entries');
      this.#slots.delete(oldest[0]);
      slot = oldest[1];
    }
    const parsed = this.cedar.preparsePolicySet(slot, { staticPolicies: policies });
    if (parsed.type === 'failure') {
      this.#free.push(slot);
      throw new PolicyError(
        'ERR_CEDAR',
        `Cedar could not parse a compiled bundle: ${parsed.errors.map((e) => e.message).join('; ')}`,
      );
    }
    this.#slots.set(key, slot);
    return slot;
  }

  get size(): number {
    return this.#slots.size;
  }
}
