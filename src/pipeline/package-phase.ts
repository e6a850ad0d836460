/**
 * The Package phase: everything the build needs from the runner. The registry credentials to
 * forward (read by the Plan phase, before the first request, so their secrets are masked before
 * any text from the platform is shown) and the deterministic context archive (written to the runner's temp
 * directory, uploaded later by the Upload phase) and its digest. No network: a plan-only run stops
 * after this phase, with every local problem a real build would hit found; a real build makes the
 * archive alongside the network phases (background-package.ts).
 */
import * as os from 'node:os';
import { createContextArchive, type ContextArchive } from '../context/archive.js';
import type { ScanResult } from '../context/walk.js';
import { formatBytes } from '../format.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import { loadRegistryCredentials } from './credentials.js';
import type { ContextSummary } from './result.js';
import type { BuildSession } from './session.js';

export interface PackagedBuild {
  /** the archive file (Dockerfile builds); the caller removes it with `cleanup()` */
  archive?: ContextArchive;
  context?: ContextSummary;
  /** spec.dockerConfigJson, when registry credentials are forwarded */
  dockerConfigJson?: string;
  /** registries whose credentials are forwarded */
  registries: string[];
}

/** Where the archive is written: the runner's own temp dir (cleaned by GitHub after the job), else the OS temp dir. */
export function archiveDir(s: BuildSession): string {
  return s.deps.env.RUNNER_TEMP || os.tmpdir();
}

async function archiveContext(
  s: BuildSession,
  contextDir: string,
  walk: ScanResult | undefined,
): Promise<{ archive: ContextArchive; context: ContextSummary }> {
  const { events, now } = s;
  events.status(`Creating build context archive from ${contextDir}`);
  const a0 = now();
  const archive = await createContextArchive(contextDir, {
    dockerfilePath: s.req.source.kind === 'dockerfile' ? s.req.source.dockerfile : undefined,
    tmpDir: archiveDir(s),
    walk,
    signal: s.signal,
    onProgress: (p) => {
      const rate = (p.bytes * 1000) / Math.max(1, now() - a0);
      events.progress({
        kind: 'archive',
        bytes: p.bytes,
        totalBytes: p.totalBytes,
        percent: p.percent,
        rate,
        files: p.files,
        totalFiles: p.totalFiles,
      });
    },
  });
  const context: ContextSummary = {
    digest: archive.digest,
    archiveDigest: archive.archiveDigest,
    fileCount: archive.fileCount,
    dirCount: archive.dirCount,
    symlinkCount: archive.symlinkCount,
    uncompressedBytes: archive.uncompressedBytes,
    compressedBytes: archive.compressedBytes,
    largestFiles: archive.largestFiles,
    skipped: archive.skipped,
  };
  for (const sk of archive.skipped) events.warning(`Build context: skipped ${sk.path}: ${sk.reason}`);
  events.status(
    `Build context archive: ${archive.fileCount} files, ${formatBytes(archive.uncompressedBytes)} uncompressed, ${formatBytes(archive.compressedBytes)} compressed (${archive.digest})` +
      (archive.ignoreFile ? `; ignore rules from ${archive.ignoreFile}` : ''),
  );
  return { archive, context };
}

/** The registry credentials to forward; their secrets are registered for redaction as they are read. */
export async function registryCredentials(s: BuildSession): Promise<RegistryCredentials> {
  if (!s.req.registryCredentials) return { registries: [] };
  const creds = await loadRegistryCredentials(s.deps.env, s.deps.secrets);
  if (creds.dockerConfigJson) s.deps.secrets.add(creds.dockerConfigJson);
  if (creds.registries.length) s.events.status(`Forwarding registry credentials for ${creds.registries.join(', ')} to the builder`);
  for (const h of creds.helpersSkipped) {
    s.events.warning(`Docker credential helper not forwarded: ${h}; only inline credentials (docker/login-action) reach the builder`);
  }
  for (const r of creds.registryTokensSkipped) {
    s.events.warning(
      `Docker registry token for ${r} not forwarded: only 'auth', username/password and identity tokens reach the builder; log in with docker/login-action (username and password) to pull from it`,
    );
  }
  return { dockerConfigJson: creds.dockerConfigJson, registries: creds.registries };
}

export type RegistryCredentials = Pick<PackagedBuild, 'dockerConfigJson' | 'registries'>;

/** What packaging starts from: the plan, the credentials read while planning, and the planning walk of the context. */
export interface PackageInput {
  plan: BuildPlan;
  credentials: RegistryCredentials;
  /** the context as planning walked it (absent for an import build) */
  walk?: ScanResult;
  /** gets the context summary in the Package phase (the result shows it even if a later step fails) */
  onArchived: (c: ContextSummary) => void;
}

/** The context archive of a Dockerfile build (none for an import). */
export async function archiveBuildContext(s: BuildSession, input: PackageInput): Promise<Pick<PackagedBuild, 'archive' | 'context'>> {
  const { plan, walk, onArchived } = input;
  const packed = plan.mode === 'dockerfile' && plan.contextDir ? await archiveContext(s, plan.contextDir, walk) : undefined;
  if (packed) onArchived(packed.context);
  return packed ?? {};
}

/** The Package phase in the foreground (a plan-only run): the archive, with the credentials read while planning. */
export async function packageBuild(s: BuildSession, input: PackageInput): Promise<PackagedBuild> {
  return { ...(await archiveBuildContext(s, input)), ...input.credentials };
}
