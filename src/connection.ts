/**
 * The connection inputs: credentials (api-key, or pat with organization-id and project-id) and the
 * platform endpoint (api-url, namespace), each with its environment fallback. What every build and
 * the post step need to talk to the platform; the api-url policy is checked here, once.
 */
import type { ActionError } from './errors.js';
import { isLoopbackHost } from './platform/urls.js';
import { MIN_SECRET_LENGTH } from './secrets.js';
import { inputError, pick, type InputSource } from './input-readers.js';

export type Auth = { kind: 'api-key'; token: string } | { kind: 'pat'; token: string; organizationId: string; projectId: string };

export const DEFAULT_API_URL = 'https://api.tensorlake.ai';

/** The api-url policy, checked once here: https (plain http for loopback hosts only), no credentials; drops query/fragment, default ports and trailing slashes. */
export function normalizeApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw inputError('api-url', `'${raw}' is not a valid URL (expected e.g. ${DEFAULT_API_URL})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw inputError('api-url', `unsupported scheme '${url.protocol}' (use https://)`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw inputError(
      'api-url',
      `plain http:// is refused for '${url.hostname}': the API key would travel unencrypted. Use https:// (plain http is only accepted for loopback hosts: localhost, 127.0.0.0/8, ::1).`,
    );
  }
  if (url.username || url.password) throw inputError('api-url', 'must not contain credentials; use the api-key or pat input');
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

export interface Connection {
  auth: Auth;
  apiUrl: string;
  namespace: string;
}

export function noCredentialsError(): ActionError {
  return inputError(
    'api-key',
    'no credentials: set api-key (or the TENSORLAKE_API_KEY environment variable), or pat with organization-id and project-id; store them as repository secrets',
  );
}

/** The credentials the inputs (or their environment fallbacks) give, undefined when there are none. */
export function readAuth(src: InputSource): Auth | undefined {
  const apiKey = pick(src, 'api-key', 'TENSORLAKE_API_KEY');
  const pat = pick(src, 'pat', 'TENSORLAKE_PAT');
  for (const [input, value] of [
    ['api-key', apiKey],
    ['pat', pat],
  ] as const) {
    if (value && /[\s\x00-\x1f]/.test(value))
      throw inputError(input, 'contains whitespace or control characters (check the secret for a trailing newline)');
    // a value this short could never be masked in logs without mangling ordinary text
    if (value && value.length < MIN_SECRET_LENGTH)
      throw inputError(input, `is too short to be a Tensorlake credential (${value.length} characters): check the secret it comes from`);
  }
  if (apiKey) return { kind: 'api-key', token: apiKey };
  if (!pat) return undefined;
  const organizationId = pick(src, 'organization-id', 'TENSORLAKE_ORGANIZATION_ID');
  const projectId = pick(src, 'project-id', 'TENSORLAKE_PROJECT_ID');
  if (!organizationId || !projectId) {
    const missing = [!organizationId && 'organization-id', !projectId && 'project-id'].filter(Boolean).join(' and ');
    throw inputError(
      missing.split(' ')[0],
      `Organization ID and project ID are required for sandbox image builds with PAT authentication: set ${missing} (or TENSORLAKE_ORGANIZATION_ID / TENSORLAKE_PROJECT_ID)`,
    );
  }
  return { kind: 'pat', token: pat, organizationId, projectId };
}

export function readEndpoint(src: InputSource): { apiUrl: string; namespace: string } {
  const apiUrl = normalizeApiUrl(pick(src, 'api-url', 'TENSORLAKE_API_URL') || DEFAULT_API_URL);
  const namespace = (src.env.INDEXIFY_NAMESPACE ?? '').trim() || 'default';
  return { apiUrl, namespace };
}

/** Credentials and endpoint only: what the post step needs to delete a builder sandbox. */
export function readConnection(src: InputSource): Connection {
  const auth = readAuth(src);
  if (!auth) throw noCredentialsError();
  return { auth, ...readEndpoint(src) };
}
