import { z } from '@hono/zod-openapi';

// PostgreSQL's text and jsonb refuse NUL characters, and a lone UTF-16 surrogate would be stored
// as U+FFFD, silently changed; such input is refused up front, naming the field.
const MESSAGE = 'must be well-formed text without NUL characters';
// In a u-mode regex a surrogate pair is one code point, so \p{Cs} matches only lone surrogates.
const UNSTORABLE = /[\0\p{Cs}]/u;

function isStorable(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(isStorable);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, v]) => isStorable(key) && isStorable(v));
  }
  return true;
}

/** A string PostgreSQL stores as given. */
export const storableText = () => z.string().refine(isStorable, MESSAGE);

/** A JSON object PostgreSQL stores as given (metadata, command parameters). */
export const storableObject = () =>
  z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }).refine(isStorable, MESSAGE);
