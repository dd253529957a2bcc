import { z } from "zod";

/**
 * Text that PostgreSQL can store and JSON carries faithfully: no NUL character (a `text` column
 * refuses it) and no lone UTF-16 surrogate (it would be stored as U+FFFD). Build every string of an
 * event and of an HTTP request on it, so that bad input is a validation issue naming the field,
 * not a database error.
 * @example SafeString.min(1).max(64).safeParse("a\u0000b").success // false
 */
export const SafeString = z
  .string()
  .refine((s) => !s.includes("\0"), "must not contain a NUL character")
  .refine((s) => !/\p{Surrogate}/u.test(s), "must be well-formed Unicode (found a lone surrogate)");
