/**
 * §1 authentication: bearer API keys (project-scoped, introspectable) and PATs (scope sent in
 * X-Forwarded-Organization-Id / X-Forwarded-Project-Id on every request).
 */
import type { IncomingMessage } from 'node:http';
import type { ApiKeyConfig, PatConfig } from './types.js';
import { HttpError } from './util.js';
import type { World } from './world.js';

export interface Principal {
  kind: 'apiKey' | 'pat';
  token: string;
  keyId?: string;
  organizationId: string;
  projectId: string;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

export function bearer(req: IncomingMessage): string {
  const auth = header(req, 'authorization');
  if (!auth)
    throw new HttpError(
      401,
      'Missing Authorization header: send "Authorization: Bearer <API key or personal access token>"',
      'UNAUTHORIZED',
    );
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  if (!m) throw new HttpError(401, 'Malformed Authorization header: expected "Bearer <token>"', 'UNAUTHORIZED');
  return m[1];
}

export function findKey(world: World, token: string): ApiKeyConfig | undefined {
  return world.opts.apiKeys.find((k) => k.key === token);
}

export function findPat(world: World, token: string): PatConfig | undefined {
  return world.opts.pats.find((p) => p.token === token);
}

export function keyId(k: ApiKeyConfig): string {
  return k.id ?? `key_${k.key.slice(-6)}`;
}

/** authenticate a platform / lifecycle / proxy request (everything but introspection) */
export function authenticate(world: World, req: IncomingMessage): Principal {
  const token = bearer(req);
  const key = findKey(world, token);
  if (key) return { kind: 'apiKey', token, keyId: keyId(key), organizationId: key.organizationId, projectId: key.projectId };
  const pat = findPat(world, token);
  if (!pat) throw new HttpError(401, 'Invalid API key or personal access token', 'UNAUTHORIZED');
  const org = header(req, 'x-forwarded-organization-id');
  const project = header(req, 'x-forwarded-project-id');
  if (!org || !project) {
    const missing = [!org ? 'X-Forwarded-Organization-Id' : '', !project ? 'X-Forwarded-Project-Id' : ''].filter(Boolean).join(' and ');
    throw new HttpError(
      403,
      `Forbidden: requests authenticated with a personal access token must send the X-Forwarded-Organization-Id and X-Forwarded-Project-Id headers (missing: ${missing})`,
      'MISSING_SCOPE_HEADERS',
    );
  }
  if (!pat.scopes.some((s) => s.organizationId === org && s.projectId === project)) {
    throw new HttpError(403, `Forbidden: personal access token has no access to organization '${org}' project '${project}'`, 'FORBIDDEN');
  }
  return { kind: 'pat', token, organizationId: org, projectId: project };
}

/** the path's org/project must be the principal's scope */
export function checkScope(p: Principal, org: string, project: string): void {
  if (p.organizationId !== org || p.projectId !== project) {
    throw new HttpError(403, `Forbidden: credentials are not authorized for organization '${org}' project '${project}'`, 'FORBIDDEN');
  }
}
