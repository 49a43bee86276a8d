/** Sends a page: the doctype, then the rendered JSX, with a status. */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JSX } from 'hono/jsx/jsx-runtime';

export function renderPage(
  c: Context,
  page: JSX.Element,
  status: ContentfulStatusCode = 200,
): Response | Promise<Response> {
  // hono/jsx escapes every text and attribute; `html` adds only the literal doctype.
  return c.html(html`<!doctype html>${page}`, status);
}
