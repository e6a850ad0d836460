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
      registerTextSecrets(value, secrets, presigned);
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

/**
 * An http(s) URL inside free text (HTML pages, plain text, JSON error messages, log lines), also
 * JSON/Go-escaped (`https:\/\/…`, `\u0026`): scheme, then anything up to a quote, whitespace or
 * angle bracket.
 */
const URL_IN_TEXT = /\bhttps?:(?:\\?\/){2}[^\s"'<>`]+/gi;

/** Largest body parsed as JSON for the structured walk; any body is scanned as text. */
const PARSE_LIMIT = 4 * 1024 * 1024;

/** `\/`, `\uXXXX` and `\\` decoded (a URL as it appears inside a JSON string). */
function unescapeJsonText(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(?:u([0-9a-fA-F]{4})|([/\\"]))/g, (_m, hex: string | undefined, c: string | undefined) =>
    hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : c!,
  );
}

/**
 * Registers the URLs found anywhere in free text — a builder log line, an error message, a string
 * field, a body that is not JSON — that are signed (or, in a pre-signing answer, that carry a
 * query), with their query strings. Cheap on text without `://` (the builder log is hot: most
 * lines cost one substring search).
 */
export function registerTextSecrets(text: string, secrets: { add(v: string | undefined | null): void }, presigned = false): void {
  if (!text.includes('://') && !text.includes(':\\/\\/')) return;
  for (const m of text.matchAll(URL_IN_TEXT)) {
    // inside a JSON string an embedded quote is `\"`: the match ends at the quote, drop its backslash
    const url = unescapeJsonText(m[0].replace(/\\+$/, '')).replace(/[),.;:\]}]+$/, '');
    const q = url.indexOf('?');
    if (q < 0 || !(presigned || isSignedUrl(url))) continue;
    secrets.add(url);
    secrets.add(url.slice(q + 1));
  }
}

/** Registers every secret-looking value of a response body: structured when it is JSON, and by pattern in any case. */
export function registerBodySecrets(body: Buffer, secrets: { add(v: string | undefined | null): void }): void {
  if (body.length === 0) return;
  const text = body.toString('utf8');
  // Signed URLs anywhere: in error messages, longer string fields, escaped forms, bodies of any size.
  registerTextSecrets(text, secrets);
  if (body.length > PARSE_LIMIT || (!text.includes('://') && !text.includes(':\\/\\/'))) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return;
  }
  // Keys that name a token or credential, request headers, and URLs in pre-signing answers.
  registerUrlSecrets(parsed, secrets);
}
