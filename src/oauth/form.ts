/**
 * Reads an OAuth form body (RFC 6749 §3.2: application/x-www-form-urlencoded).
 * Repeated parameters are refused unless the endpoint allows them (RFC 6749 §3.1;
 * RFC 8707 lets `resource` repeat).
 */
import type { Context } from 'hono';
import { OAuthError } from './errors.ts';

export interface OAuthForm {
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

export async function readForm(c: Context, repeatable: readonly string[] = []): Promise<OAuthForm> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded(\s*;|$)/i.test(type)) {
    throw new OAuthError('invalid_request', 'body must be application/x-www-form-urlencoded');
  }
  return formOf(new URLSearchParams(await c.req.text()), repeatable);
}

/** Parameters (a body or a query string) read with the same single-value rules. */
export function formOf(params: URLSearchParams, repeatable: readonly string[] = []): OAuthForm {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key) && !repeatable.includes(key)) {
      throw new OAuthError('invalid_request', `parameter ${key} must not be repeated`);
    }
    seen.add(key);
  }
  return {
    get: (name) => {
      const value = params.get(name);
      return value === null || value === '' ? undefined : value;
    },
    getAll: (name) => params.getAll(name).filter((v) => v !== ''),
  };
}
