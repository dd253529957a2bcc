// CloudEvents protocol bindings carry attribute values percent-encoded: every byte of the UTF-8
// form outside printable ASCII, plus space, '"' and '%', becomes %XX.
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeHeaderValue(value: string): string {
  let out = "";
  for (const byte of encoder.encode(value)) {
    if (byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25) out += String.fromCharCode(byte);
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Returns undefined when the value is not a valid percent-encoding of UTF-8. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x7f) return undefined;
    else bytes.push(c);
  }
  try {
    return decoder.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}
