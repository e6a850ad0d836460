/** URL helpers shared by the platform clients: local and loopback hosts, path segments, base URLs, URLs fit for logs. */
import { SENSITIVE_QUERY } from './url-secrets.js';

/** Loopback hosts for which plain http:// is accepted (127.0.0.0/8, localhost, ::1). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h)) return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

/** Path and query of a URL for logs, with signature-like query values masked. */
export function loggablePath(url: string): string {
  try {
    const u = new URL(url);
    const parts: string[] = [];
    for (const [k, v] of u.searchParams) parts.push(`${k}=${SENSITIVE_QUERY.test(k) ? '***' : encodeURIComponent(v)}`);
    return u.pathname + (parts.length ? `?${parts.join('&')}` : '');
  } catch {
    return '<unparsable url>';
  }
}

/** §1.5: the hosts the contract treats as local (namespaced lifecycle paths, Host override). Not ::1. */
export const LOCAL_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1']);

/**
 * Percent-encodes every byte except `A–Z a–z 0–9 - . _ ~` (§3): `encodeURIComponent` plus the
 * five characters it leaves alone (`! ' ( ) *`).
 */
export function encodePathSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Strips trailing slashes so paths can be concatenated as plain strings (§1.1). */
export function trimBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}
