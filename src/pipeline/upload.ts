/**
 * The Upload context phase (§6.5, §6.6, §7.1): sign the snapshot upload (new path), prepare the
 * build directory, archive the context deterministically and stream it up, extract it, then write
 * spec.json. Returns what completion needs (the signed snapshot URI) and the context summary.
 */
import { createReadStream } from 'node:fs';
import { ActionError } from '../errors.js';
import { createContextArchive } from '../context/archive.js';
import { formatBytes } from '../format.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import type { SandboxProxy } from '../platform/proxy.js';
import type { JsonObject, PreparedBuild } from '../platform/types.js';
import type { ContextSummary } from './result.js';
import { multipartHint, type BuildSizes } from './sizes.js';
import { buildSpec } from './spec.js';
import { loadRegistryCredentials } from './credentials.js';
import { BUILD_DIR, CONTEXT_ARCHIVE, CONTEXT_DIR, SPEC_PATH } from './remote-paths.js';
import { COMMAND_LIMITS_MS, execInSandbox } from './exec.js';
import type { BuildSession } from './session.js';

/** What to do when the platform refuses the context archive as too large (HTTP 413). */
export function contextTooLargeAdvice(compressedBytes: number): string {
  return (
    `The build context archive (${formatBytes(compressedBytes)} compressed) is larger than the platform accepts: ` +
    'leave out what the build does not need with a .dockerignore, or point the context input at a smaller directory.'
  );
}

const HOUSEKEEPING = { timeoutMs: COMMAND_LIMITS_MS.housekeeping };

export interface UploadOutcome {
  signedUri?: string;
  context?: ContextSummary;
}

async function signBlobs(
  proxy: SandboxProxy,
  prep: PreparedBuild,
  sizes: BuildSizes,
  signal?: AbortSignal,
): Promise<{ upload?: JsonObject; parentDownload?: JsonObject }> {
  if (prep.snapshotRelPath === undefined) return {}; // legacy path: prepare carried the upload block
  const upload = await proxy.signBlob(
    {
      target: { kind: 'artifact', rel_path: prep.snapshotRelPath },
      op: { kind: 'put_artifact', multipart_hint: multipartHint(sizes.targetMiB) },
    },
    signal,
  );
  if (typeof upload.uri !== 'string') throw new ActionError('dataplane signed upload response is missing uri', { kind: 'platform' });
  const parentDownload = prep.parent
    ? await proxy.signBlob({ target: { kind: 'blob', uri: prep.parent.parentManifestUri }, op: { kind: 'get_blob' } }, signal)
    : undefined;
  return { upload, parentDownload };
}

async function uploadContext(
  s: BuildSession,
  proxy: SandboxProxy,
  contextDir: string,
  onArchived: (c: ContextSummary) => void,
): Promise<ContextSummary> {
  const { events, now } = s;
  events.status('Uploading build context...');
  events.status(`Creating build context archive from ${contextDir}`);
  const a0 = now();
  const archive = await createContextArchive(contextDir, {
    dockerfilePath: s.req.source.kind === 'dockerfile' ? s.req.source.dockerfile : undefined,
    // the runner's own temp dir (cleaned by GitHub after the job), else the OS temp dir
    tmpDir: s.deps.env.RUNNER_TEMP || undefined,
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
  const summary: ContextSummary = {
    digest: archive.digest,
    archiveDigest: archive.archiveDigest,
    fileCount: archive.fileCount,
    dirCount: archive.dirCount,
    symlinkCount: archive.symlinkCount,
    uncompressedBytes: archive.uncompressedBytes,
    compressedBytes: archive.compressedBytes,
    skipped: archive.skipped,
  };
  onArchived(summary);
  try {
    for (const sk of archive.skipped) events.warning(`Build context: skipped ${sk.path}: ${sk.reason}`);
    events.status(
      `Build context archive: ${archive.fileCount} files, ${formatBytes(archive.uncompressedBytes)} uncompressed, ${formatBytes(archive.compressedBytes)} compressed (${archive.digest})` +
        (archive.ignoreFile ? `; ignore rules from ${archive.ignoreFile}` : ''),
    );
    await execInSandbox(s, proxy, { command: 'mkdir', args: ['-p', BUILD_DIR] }, HOUSEKEEPING);
    // §6.5: upload progress at 0 %, every further 10 %, and 100 %.
    const u0 = now();
    const total = archive.compressedBytes;
    let lastDecile = -1;
    await proxy.putFile(
      CONTEXT_ARCHIVE,
      {
        open: () => createReadStream(archive.path),
        length: total,
        onProgress: (sent) => {
          const percent = total === 0 ? 100 : Math.floor((sent * 100) / total);
          const decile = Math.floor(percent / 10);
          if (decile === lastDecile && sent !== total) return;
          lastDecile = decile;
          events.progress({ kind: 'upload', bytes: sent, totalBytes: total, percent, rate: (sent * 1000) / Math.max(1, now() - u0) });
        },
      },
      s.signal,
    ).catch((e: unknown) => {
      if (e instanceof ActionError && e.httpStatus === 413) e.addAdvice(contextTooLargeAdvice(total));
      throw e;
    });
    await execInSandbox(s, proxy, { command: 'mkdir', args: ['-p', CONTEXT_DIR] }, HOUSEKEEPING);
    events.status('Untarring build context archive in builder sandbox...');
    await execInSandbox(
      s,
      proxy,
      { command: 'tar', args: ['-xzf', CONTEXT_ARCHIVE, '-C', CONTEXT_DIR] },
      { forward: true, timeoutMs: COMMAND_LIMITS_MS.untar },
    );
    await proxy.deleteFile(CONTEXT_ARCHIVE, s.signal);
    events.status('Build context extracted; removed remote archive');
    return summary;
  } finally {
    await archive.cleanup().catch(() => undefined);
  }
}

/**
 * Reads the runner's Docker credentials and registers every secret in them. Called in the Plan phase,
 * before the first request: every secret is masked before any text from outside is printed.
 */
export async function registryCredentials(s: BuildSession): Promise<string | undefined> {
  if (!s.req.registryCredentials) return undefined;
  const creds = await loadRegistryCredentials(s.deps.env, s.deps.secrets);
  if (creds.dockerConfigJson) s.deps.secrets.add(creds.dockerConfigJson);
  if (creds.registries.length) s.events.status(`Forwarding registry credentials for ${creds.registries.join(', ')} to the builder`);
  for (const h of creds.helpersSkipped) {
    s.events.warning(`Docker credential helper not forwarded: ${h}; only inline credentials (docker/login-action) reach the builder`);
  }
  return creds.dockerConfigJson;
}

export async function uploadBuildInputs(
  s: BuildSession,
  proxy: SandboxProxy,
  plan: BuildPlan,
  prep: PreparedBuild,
  sizes: BuildSizes,
  dockerConfigJson: string | undefined,
  onArchived: (c: ContextSummary) => void = () => {},
): Promise<UploadOutcome> {
  const signed = await signBlobs(proxy, prep, sizes, s.signal);
  await execInSandbox(s, proxy, { command: 'mkdir', args: ['-p', BUILD_DIR], user: 'root' }, HOUSEKEEPING);
  await execInSandbox(s, proxy, { command: 'chmod', args: ['0777', BUILD_DIR], user: 'root' }, HOUSEKEEPING);
  const context = plan.mode === 'dockerfile' && plan.contextDir ? await uploadContext(s, proxy, plan.contextDir, onArchived) : undefined;
  const spec = buildSpec({
    prepared: prep.raw,
    plan,
    rootfsDiskBytes: sizes.rootfsDiskBytes,
    signedUpload: signed.upload,
    parentDownload: signed.parentDownload,
    dockerConfigJson,
    dockerCompat: s.req.dockerCompat,
  });
  await execInSandbox(s, proxy, { command: 'mkdir', args: ['-p', BUILD_DIR] }, HOUSEKEEPING);
  await proxy.putFile(SPEC_PATH, Buffer.from(JSON.stringify(spec, null, 2)), s.signal);
  return { signedUri: typeof signed.upload?.uri === 'string' ? signed.upload.uri : undefined, context };
}
