// CloudEvents protocol bindings carry attribute values percent-encoded: every byte of the UTF-8
// form outside printable ASCII, plus space, '"' and '%', becomes %XX.
const encoder = new TextEncoder();

export function encodeHeaderValue(value: string): string {
  let out = "";
  for (const byte of encoder.encode(value)) {
    if (byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25) out += String.fromCharCode(byte);
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * Returns undefined when the value is not a valid percent-encoding of UTF-8 (a stray '%', a
 * truncated or overlong sequence, an encoded surrogate). Unencoded non-ASCII passes through.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
