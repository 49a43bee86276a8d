/**
 * Property-based tests (fast-check) of the scope and expiry algebra every token
 * decision rests on: whatever the grant and the request, an approval never names
 * more than the agent asked for, and a token never outlives any of its bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DelegationError, narrowResources } from '../../src/delegation/decide.ts';
import { tokenLifetime, TokenLifetimeError } from '../../src/tokens/lifetime.ts';

const scopeName = fc.stringMatching(/^[a-z]{1,6}:[a-z]{1,6}$/);
const resource = fc.constantFrom(
  'https://a.example/',
  'https://b.example/',
  'https://c.example/',
  'https://d.example/',
);

/** What an agent asked for: distinct resources, each with distinct scopes. */
const requested = fc
  .uniqueArray(
    fc.record({
      resource,
      api_client_id: fc.constant('api_x'),
      scopes: fc.uniqueArray(scopeName, { minLength: 1, maxLength: 6 }),
    }),
    { selector: (r) => r.resource, minLength: 1, maxLength: 4 },
  )
  .filter((rs) => rs.length > 0);

/** A person's choice from `asked`: for each resource, any sub-list of its scopes. */
const choiceFrom = (asked: { resource: string; scopes: string[] }[]) =>
  fc.tuple(
    ...asked.map((r) => fc.subarray(r.scopes).map((scopes) => ({ resource: r.resource, scopes }))),
  );

describe('approval narrowing', () => {
  it('keeps exactly the chosen scopes of requested resources, never more', () => {
    fc.assert(
      fc.property(
        requested.chain((asked) => fc.tuple(fc.constant(asked), choiceFrom(asked))),
        ([asked, chosen]) => {
          const total = chosen.reduce((n, c) => n + c.scopes.length, 0);
          if (total === 0) {
            expect(() => narrowResources(asked, chosen)).toThrow(DelegationError);
            return;
          }
          const granted = narrowResources(asked, chosen);
          for (const g of granted) {
            const a = asked.find((r) => r.resource === g.resource);
            expect(a).toBeDefined();
            for (const s of g.scopes) expect(a?.scopes).toContain(s);
            const c = chosen.find((x) => x.resource === g.resource);
            expect(new Set(g.scopes)).toEqual(new Set(c?.scopes));
            expect(g.scopes.length).toBeGreaterThan(0);
          }
          expect(granted.reduce((n, g) => n + g.scopes.length, 0)).toBe(total);
        },
      ),
    );
  });

  it('refuses any choice that names a scope or resource the agent did not ask for', () => {
    fc.assert(
      fc.property(
        requested,
        scopeName,
        fc.constantFrom('https://elsewhere.example/', 'https://a.example/'),
        (asked, extraScope, extraResource) => {
          const [first] = asked;
          if (!first) return;
          const widenedScope = first.scopes.includes(extraScope)
            ? undefined
            : [{ resource: first.resource, scopes: [...first.scopes, extraScope] }];
          if (widenedScope) {
            expect(() => narrowResources(asked, widenedScope)).toThrow(/did not ask for/);
          }
          if (!asked.some((r) => r.resource === extraResource)) {
            expect(() =>
              narrowResources(asked, [{ resource: extraResource, scopes: first.scopes }]),
            ).toThrow(/did not ask for/);
          }
        },
      ),
    );
  });
});

describe('token lifetime', () => {
  const seconds = fc.integer({ min: -3600, max: 30 * 86_400 });
  it('never exceeds the default, the grant’s per-token ceiling or the grant’s end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 86_400 }),
        fc.integer({ min: 1, max: 86_400 }),
        seconds,
        fc.integer({ min: 0, max: 999 }),
        (defaultTtl, grantMaxTokenTtl, untilEnd, ms) => {
          const now = new Date(Date.UTC(2026, 10, 23, 8, 0, 0, ms));
          const grantExpiresAt = new Date(now.getTime() + untilEnd * 1000);
          let lifetime: number;
          try {
            lifetime = tokenLifetime({ defaultTtl, grantMaxTokenTtl, grantExpiresAt, now });
          } catch (err) {
            expect(err).toBeInstanceOf(TokenLifetimeError);
            expect(untilEnd).toBeLessThanOrEqual(0);
            return;
          }
          expect(Number.isInteger(lifetime)).toBe(true);
          expect(lifetime).toBeGreaterThan(0);
          expect(lifetime).toBeLessThanOrEqual(defaultTtl);
          expect(lifetime).toBeLessThanOrEqual(grantMaxTokenTtl);
          // exp = iat + lifetime, with iat the whole second of `now`: never past the grant's end.
          const exp = Math.floor(now.getTime() / 1000) + lifetime;
          expect(exp * 1000).toBeLessThanOrEqual(grantExpiresAt.getTime());
        },
      ),
      { numRuns: 500 },
    );
  });
});
