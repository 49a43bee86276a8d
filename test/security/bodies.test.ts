/**
 * Hostile request bodies: too large, of the wrong media type, malformed, repeated,
 * nested ten thousand levels deep, or carrying prototype keys. Each is refused with
 * a 4xx OAuth error — never a 5xx, never a hang — before anything is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import {
  BACKCHANNEL,
  backchannel,
  REPOS,
  startRequest,
  TOKEN,
  validRequest,
} from '../delegation/world.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion } from '../helpers/clients.ts';
import { csrfOf, registeredPerson, type Registered } from '../passkeys/ceremonies.ts';
import { createTaskWorld, INTROSPECT, mint, type TaskWorld } from '../oauth/task-world.ts';
import { expectOAuthError } from './forge.ts';
import { withoutStateChange } from './state.ts';

let w: TaskWorld;
let ada: Registered;
let requestId: string;
beforeAll(async () => {
  w = await createTaskWorld();
  ada = await registeredPerson(w.t, 'ada@example.com', 'acme');
  requestId = (await startRequest(w)).requestId;
});
afterAll(async () => w.t.close());

const DEPTH = 10_000;
const deepArray = (inner = '{}') => '['.repeat(DEPTH) + inner + ']'.repeat(DEPTH);
/**
 * Objects cost four times as many bytes per level once form-encoded (`{"a":` is
 * `%7B%22a%22%3A`), so inside a form they nest 4,000 deep to stay under the body
 * limit and reach the parser; in a JSON body they nest the full 10,000.
 */
const deepObject = (depth = DEPTH) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const FORM_OBJECT_DEPTH = 4_000;

const assertion = () => clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() });

const raw = (
  path: string,
  body: BodyInit,
  contentType?: string,
  extra: Record<string, string> = {},
) =>
  w.t.request(path, {
    method: 'POST',
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...extra },
    body,
  });

const pageHeaders = async () => ({
  cookie: ada.cookie,
  'x-csrf-token': await csrfOf(w.t, ada.userId),
  origin: 'http://localhost:8787',
});

describe('an oversized body', () => {
  it.each([
    ['the token endpoint', TOKEN],
    ['the backchannel endpoint', BACKCHANNEL],
    ['introspection', INTROSPECT],
  ])('is refused with 413 at %s', async (_, path) => {
    const body = `client_assertion_type=${CLIENT_ASSERTION_TYPE}&client_assertion=${await assertion()}&pad=${'a'.repeat(w.t.deps.config.maxBodyBytes)}`;
    await withoutStateChange(w.t, async () => {
      const res = await raw(path, body, 'application/x-www-form-urlencoded');
      const answer = await expectOAuthError(res, 413, 'invalid_request');
      expect(answer.error_description).toBe('request body too large');
    });
  });

  it('is refused with 413 at a passkey endpoint', async () => {
    const body = JSON.stringify({ response: { id: 'a'.repeat(w.t.deps.config.maxBodyBytes) } });
    await withoutStateChange(w.t, async () => {
      const res = await raw('/passkeys/signin/verify', body, 'application/json');
      await expectOAuthError(res, 413, 'invalid_request');
    });
  });
});

describe('the wrong media type', () => {
  const formOnly = 'body must be application/x-www-form-urlencoded';

  it.each([
    ['JSON', 'application/json'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['text/plain', 'text/plain'],
    ['no content type', undefined],
    ['a look-alike form type', 'application/x-www-form-urlencodedx'],
  ])('is refused at the token endpoint: %s', async (_, type) => {
    const params = new URLSearchParams({
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(),
      grant_type: 'refresh_token',
      refresh_token: w.handle,
    }).toString();
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(await raw(TOKEN, params, type), 400, 'invalid_request');
      expect(answer.error_description).toBe(formOnly);
    });
  });

  it('is refused at the backchannel endpoint as JSON', async () => {
    const body = JSON.stringify({ ...validRequest, client_assertion: await assertion() });
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(
        await raw(BACKCHANNEL, body, 'application/json'),
        400,
        'invalid_request',
      );
      expect(answer.error_description).toBe(formOnly);
    });
  });

  it('is refused at an approval as a form', async () => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(`/requests/${requestId}/approval/options`, {
        method: 'POST',
        headers: { ...(await pageHeaders()), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'resources=x&duration=3600',
      });
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toMatch(/^invalid body/);
    });
  });
});

describe('a malformed body', () => {
  it('binary garbage as a form gets invalid_client, not a crash', async () => {
    const garbage = crypto.getRandomValues(new Uint8Array(4096));
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await raw(TOKEN, garbage, 'application/x-www-form-urlencoded'),
        401,
        'invalid_client',
      );
    });
  });

  it('a repeated parameter is refused', async () => {
    const body = new URLSearchParams({
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(),
      grant_type: 'refresh_token',
      refresh_token: w.handle,
    });
    body.append('grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange');
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(
        await raw(TOKEN, body.toString(), 'application/x-www-form-urlencoded'),
        400,
        'invalid_request',
      );
      expect(answer.error_description).toBe('parameter grant_type must not be repeated');
    });
  });

  it.each([
    ['truncated', '{"response":{"id":"x"'],
    ['not JSON at all', 'response=x'],
    ['a JSON string', '"response"'],
    ['null', 'null'],
  ])('malformed passkey JSON is refused: %s', async (_, body) => {
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(
        await raw('/passkeys/signin/verify', body, 'application/json'),
        400,
        'invalid_request',
      );
      expect(answer.error_description).toBe('malformed passkey request');
    });
  });

  it('malformed approval JSON is refused', async () => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(`/requests/${requestId}/approval/options`, {
        method: 'POST',
        headers: { ...(await pageHeaders()), 'content-type': 'application/json' },
        body: '{"resources":[{"resource":',
      });
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toMatch(/^invalid body/);
    });
  });
});

describe('deeply nested JSON', () => {
  const details = 'authorization_details must be an array with one agent_task object';

  it.each([
    ['arrays', deepArray()],
    ['objects inside the array', `[${deepObject(FORM_OBJECT_DEPTH)}]`],
    [
      'objects inside an agent_task',
      `[{"type":"agent_task","purpose":"p","nested":${deepObject(FORM_OBJECT_DEPTH)}}]`,
    ],
  ])('is refused in a CIBA request’s authorization_details: %s', async (_, nested) => {
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(
        await backchannel(w, { ...validRequest, authorization_details: nested }),
        400,
        'invalid_authorization_details',
      );
      expect(answer.error_description).toMatch(new RegExp(`^${details}`));
    });
  });

  it('is refused in a task mint’s authorization_details', async () => {
    await withoutStateChange(w.t, async () => {
      const answer = await expectOAuthError(
        await mint(w, { resource: REPOS, authorization_details: deepArray() }),
        400,
        'invalid_authorization_details',
      );
      expect(answer.error_description).toMatch(new RegExp(`^${details}`));
    });
  });

  it('is refused as an approval body', async () => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(`/requests/${requestId}/approval/options`, {
        method: 'POST',
        headers: { ...(await pageHeaders()), 'content-type': 'application/json' },
        body: `{"resources":${deepArray()},"duration":3600}`,
      });
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toMatch(/^invalid body/);
    });
  });

  it('is refused as a passkey response', async () => {
    await withoutStateChange(w.t, async () => {
      const res = await raw(
        '/passkeys/signin/verify',
        `{"response":${deepObject()}}`,
        'application/json',
      );
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toBe('malformed passkey request');
    });
  });
});

describe('prototype keys', () => {
  it('are refused in authorization_details (no pollution, no unknown members)', async () => {
    const polluted =
      '[{"type":"agent_task","purpose":"p","__proto__":{"max_token_ttl":999999,"admin":true}}]';
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(
        await backchannel(w, { ...validRequest, authorization_details: polluted }),
        400,
        'invalid_authorization_details',
      );
    });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('are refused in an approval body', async () => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(`/requests/${requestId}/approval/options`, {
        method: 'POST',
        headers: { ...(await pageHeaders()), 'content-type': 'application/json' },
        body: '{"resources":[],"duration":3600,"__proto__":{"duration":99999999}}',
      });
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toMatch(/^invalid body/);
    });
  });
});
