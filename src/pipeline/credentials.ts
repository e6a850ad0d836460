/**
 * docs/protocol.md §11: registry credentials forwarded to the builder through spec.json, read from the
 * runner's Docker config (what docker/login-action writes). Every credential is registered as a
 * secret (the base64 `auth`, the decoded password, identity tokens) before anything can print it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ActionError } from '../errors.js';
import type { SecretRegistry } from '../secrets.js';

export interface RegistryCredentials {
  /** compact JSON string for spec.dockerConfigJson, or undefined when there are no credentials */
  dockerConfigJson?: string;
  registries: string[];
  /** credential helpers configured but not forwarded (their secrets live outside the config file) */
  helpersSkipped: string[];
  /** registries whose only credential is a `registrytoken` (a bearer token §11 does not forward) */
  registryTokensSkipped: string[];
  configPath?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export async function loadRegistryCredentials(
  env: Record<string, string | undefined>,
  secrets: SecretRegistry,
): Promise<RegistryCredentials> {
  const dir = env.DOCKER_CONFIG?.trim() || join(env.HOME?.trim() || homedir(), '.docker');
  const configPath = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return { registries: [], helpersSkipped: [], registryTokensSkipped: [] };
    }
    throw new ActionError(`Failed to load Docker config: ${configPath}: ${(e as Error).message}`, {
      kind: 'input',
      input: 'registry-credentials',
      advice: ['Fix the file, or set registry-credentials: false to build without registry credentials.'],
    });
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new ActionError(`Failed to load Docker config: ${configPath} is not valid JSON (${(e as Error).message})`, {
      kind: 'input',
      input: 'registry-credentials',
      advice: ['Fix the file, or set registry-credentials: false to build without registry credentials.'],
    });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ActionError(`Failed to load Docker config: ${configPath} is not a JSON object`, {
      kind: 'input',
      input: 'registry-credentials',
    });
  }
  const cfg = config as Record<string, unknown>;
  const auths = (typeof cfg.auths === 'object' && cfg.auths !== null ? cfg.auths : {}) as Record<string, unknown>;
  const out: Record<string, { auth?: string; identitytoken?: string }> = {};
  const registryTokensSkipped: string[] = [];
  for (const [registry, value] of Object.entries(auths)) {
    if (typeof value !== 'object' || value === null) continue;
    const entry = value as Record<string, unknown>;
    let username = str(entry.username);
    let password = str(entry.password);
    const auth = str(entry.auth);
    if (auth) {
      secrets.add(auth);
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        username ??= decoded.slice(0, colon);
        password ??= decoded.slice(colon + 1);
      }
    }
    if (password) secrets.addCredential(password);
    const identitytoken = str(entry.identitytoken);
    if (identitytoken) secrets.add(identitytoken);
    const registrytoken = str(entry.registrytoken);
    if (registrytoken) secrets.add(registrytoken);
    const item: { auth?: string; identitytoken?: string } = {};
    if (identitytoken) item.identitytoken = identitytoken;
    if (username && password) {
      item.auth = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
      secrets.add(item.auth);
    }
    if (item.auth || item.identitytoken) out[registry] = item;
    else if (registrytoken) registryTokensSkipped.push(registry);
  }
  const helpersSkipped: string[] = [];
  const credsStore = str(cfg.credsStore);
  if (credsStore) helpersSkipped.push(`credsStore ${credsStore}`);
  if (typeof cfg.credHelpers === 'object' && cfg.credHelpers !== null) {
    for (const [reg, helper] of Object.entries(cfg.credHelpers as Record<string, unknown>))
      helpersSkipped.push(`${reg} (credHelper ${String(helper)})`);
  }
  const registries = Object.keys(out).sort();
  if (registries.length === 0 && Object.keys(auths).length === 0) return { registries, helpersSkipped, registryTokensSkipped, configPath };
  return { dockerConfigJson: JSON.stringify({ auths: out }), registries, helpersSkipped, registryTokensSkipped, configPath };
}
