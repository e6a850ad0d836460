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
export function registerUrlSecrets(
  value: unknown,
  secrets: { add(v: string | undefined | null): void },
  keyHint = '',
  /** the answer is a pre-signing answer (blob/sign, prepare): every URL with a query is signed */
  presigned = false,
): void {
  if (typeof value === 'string') {
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(value);
    if (m) {
      if ((presigned ? value.includes('?') : isSignedUrl(value)) || m[2].includes('@')) {
        secrets.add(value);
        const q = value.indexOf('?');
        if (q >= 0) secrets.add(value.slice(q + 1));
      }
    } else if (SECRET_KEY.test(keyHint)) {
      secrets.add(value);
    } else {
      // a URL inside free text (`"error": "cannot sign https://…?sig=…"`) is as secret as a bare one
      registerEmbeddedUrls(value, secrets, presigned);
    }
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) registerUrlSecrets(v, secrets, keyHint, presigned);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (/^headers$/i.test(k) && v !== null && typeof v === 'object') {
        // Pre-signed request headers (e.g. x-amz-security-token) are secret values.
        for (const hv of Object.values(v as Record<string, unknown>)) if (typeof hv === 'string') secrets.add(hv);
        continue;
      }
      registerUrlSecrets(v, secrets, k, presigned);
    }
  }
}

/** Query keys that carry a signature or a credential (S3 X-Amz-Signature, GCS, Azure SAS `sig`, tokens). */
export const SENSITIVE_QUERY = /sig|signature|token|credential|secret|auth|key|policy|session/i;

/**
 * A URL whose query carries a signature or credential. A plain query (`?version=1.2.3` in a
 * Dockerfile the platform echoes back) is not a secret: masking it would mangle outputs and logs.
 */
export function isSignedUrl(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  for (const part of url.slice(q + 1).split(/[&;]/)) {
    const key = part.split('=', 1)[0];
    if (key && SENSITIVE_QUERY.test(key)) return true;
  }
  return false;
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
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (an HTML error page, plain text): signed URLs anywhere in the text
    registerEmbeddedUrls(text, secrets, false);
    return;
  }
  registerUrlSecrets(parsed, secrets);
}

/** Registers the URLs with a query found anywhere in free text: signed-looking ones, or all of them in a pre-signing answer. */
function registerEmbeddedUrls(text: string, secrets: { add(v: string | undefined | null): void }, presigned: boolean): void {
  if (!text.includes('://')) return;
  for (const m of text.matchAll(URL_WITH_QUERY)) {
    if (!presigned && !isSignedUrl(m[0])) continue;
    secrets.add(m[0]);
    secrets.add(m[0].slice(m[0].indexOf('?') + 1));
  }
}
