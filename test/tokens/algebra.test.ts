/** The scope and expiry algebra, case by case (the property tests live beside it). */
import { describe, expect, it } from 'vitest';
import {
  AlgebraError,
  beyond,
  boundedLifetime,
  chooseResource,
  distinct,
  expiresWithin,
  isSubset,
  issuedAtSeconds,
  narrowScopes,
} from '../../src/tokens/algebra.ts';

const A = 'https://a.example/';
const B = 'https://b.example/';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AlgebraError) return err.code;
    throw err;
  }
  return undefined;
}

describe('scope sets', () => {
  it('keeps the first of repeated names', () => {
    expect(distinct(['b', 'a', 'b'])).toEqual(['b', 'a']);
  });

  it('names what a request asks beyond the ceiling, once each', () => {
    expect(beyond(['x', 'a', 'x', 'y'], ['a', 'b'])).toEqual(['x', 'y']);
    expect(beyond([], ['a'])).toEqual([]);
  });

  it('treats the empty set as a subset of everything and nothing else as a subset of it', () => {
    expect(isSubset([], [])).toBe(true);
    expect(isSubset(['a'], [])).toBe(false);
    expect(isSubset(['a', 'a'], ['a', 'b'])).toBe(true);
  });
});

describe('narrowScopes', () => {
  it('gives the whole ceiling when nothing was requested', () => {
    expect(narrowScopes(['r', 'w', 'r'], undefined)).toEqual(['r', 'w']);
  });

  it('gives the requested subset in the ceiling’s order', () => {
    expect(narrowScopes(['r', 'w', 'd'], ['d', 'r'])).toEqual(['r', 'd']);
  });

  it('refuses scopes beyond the ceiling, naming them', () => {
    try {
      narrowScopes(['r'], ['r', 'admin']);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AlgebraError);
      expect(err).toMatchObject({ code: 'ERR_SCOPE_BEYOND', beyond: ['admin'] });
    }
  });

  it('refuses an empty request', () => {
    expect(codeOf(() => narrowScopes(['r'], []))).toBe('ERR_SCOPE_EMPTY');
  });
});

describe('chooseResource', () => {
  const ceiling = [
    { resource: A, scopes: ['r'] },
    { resource: B, scopes: ['w'] },
  ];

  it('picks the named resource', () => {
    expect(chooseResource(ceiling, [B])).toBe(ceiling[1]);
    expect(chooseResource(ceiling, [A, A])).toBe(ceiling[0]);
  });

  it('defaults to the only resource of a single-resource ceiling', () => {
    expect(chooseResource([ceiling[0]!], [])).toBe(ceiling[0]);
  });

  it('refuses a resource outside the ceiling before anything else, naming it', () => {
    try {
      chooseResource(ceiling, [A, 'https://c.example/']);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_RESOURCE_BEYOND', beyond: ['https://c.example/'] });
    }
  });

  it('refuses several resources, and none when there is no single default', () => {
    expect(codeOf(() => chooseResource(ceiling, [A, B]))).toBe('ERR_RESOURCE_AMBIGUOUS');
    expect(codeOf(() => chooseResource(ceiling, []))).toBe('ERR_RESOURCE_AMBIGUOUS');
    expect(codeOf(() => chooseResource([], []))).toBe('ERR_RESOURCE_AMBIGUOUS');
  });
});

describe('boundedLifetime', () => {
  const now = new Date(Date.UTC(2026, 0, 1, 12, 0, 0, 700));
  const iat = issuedAtSeconds(now);

  it('takes the smallest ceiling', () => {
    expect(boundedLifetime({ now, ceilings: [300, 120, 600], notAfter: [] })).toBe(120);
  });

  it('stops at the earliest instant, counted from the whole second of iat', () => {
    const end = new Date((iat + 45) * 1000 + 999);
    expect(boundedLifetime({ now, ceilings: [300], notAfter: [end] })).toBe(45);
    expect(expiresWithin(iat + 45, end)).toBe(true);
    expect(expiresWithin(iat + 46, end)).toBe(false);
  });

  it('floors fractional ceilings to whole seconds', () => {
    expect(boundedLifetime({ now, ceilings: [10.9], notAfter: [] })).toBe(10);
  });

  it('refuses bounds that leave nothing, and no bounds at all', () => {
    expect(codeOf(() => boundedLifetime({ now, ceilings: [0], notAfter: [] }))).toBe(
      'ERR_NO_LIFETIME',
    );
    expect(codeOf(() => boundedLifetime({ now, ceilings: [60], notAfter: [now] }))).toBe(
      'ERR_NO_LIFETIME',
    );
    expect(codeOf(() => boundedLifetime({ now, ceilings: [], notAfter: [] }))).toBe(
      'ERR_NO_LIFETIME',
    );
  });
});
