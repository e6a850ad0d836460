/**
 * Secrets that arrive in platform answers: pre-signed URLs and tokens. The transport registers them
 * from every response body before anything can format that body into a message.
 */

const SECRET_KEY = /token|signature|credential|authorization|secret|password/i;

/**
 * Registers as secrets, anywhere in a JSON value: every URL that carries a query string (pre-signed
 * URLs: S3 X-Amz-Signature, GCS, Azure SAS all sign in the query) or user info, the query
 * string of each such URL on its own (the signature part), and every string under a key that
 * names a token/credential. Plain storage identifiers such as `s3://bucket/key.tlsnap` are not
 * secrets: users need to see them (the `manifest-uri` output), and registering them would make
 * the runner mask those outputs.
 */
export function registerUrlSecrets(value: unknown, secrets: { add(v: string | undefined | null): void }, keyHint = ''): void {
  if (typeof value === 'string') {
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(value);
    if (m) {
      const q = value.indexOf('?');
      if (q >= 0 || m[2].includes('@')) {
        secrets.add(value);
        if (q >= 0) secrets.add(value.slice(q + 1));
      }
    } else if (SECRET_KEY.test(keyHint)) {
      secrets.add(value);
    }
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) registerUrlSecrets(v, secrets, keyHint);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (/^headers$/i.test(k) && v !== null && typeof v === 'object') {
        // Pre-signed request headers (e.g. x-amz-security-token) are secret values.
        for (const hv of Object.values(v as Record<string, unknown>)) if (typeof hv === 'string') secrets.add(hv);
        continue;
      }
      registerUrlSecrets(v, secrets, k);
    }
  }
}

/** Any http(s) URL with a query string inside free text (HTML error pages, plain-text bodies). */
const URL_WITH_QUERY = /\bhttps?:\/\/[^\s"'<>\\]+\?[^\s"'<>\\]+/g;

/** Largest body scanned (metadata and API answers are small; file downloads are not scanned past this). */
const SCAN_LIMIT = 4 * 1024 * 1024;

/** Registers every secret-looking value of a response body: structured when it is JSON, by pattern otherwise. */
export function registerBodySecrets(body: Buffer, secrets: { add(v: string | undefined | null): void }): void {
  if (body.length === 0 || body.length > SCAN_LIMIT) return;
  const text = body.toString('utf8');
  if (!text.includes('://')) return;
  try {
    registerUrlSecrets(JSON.parse(text), secrets);
  } catch {
    /* not JSON: the pattern scan below covers it */
  }
  for (const m of text.matchAll(URL_WITH_QUERY)) {
    secrets.add(m[0]);
    secrets.add(m[0].slice(m[0].indexOf('?') + 1));
  }
}
