/**
 * The Upload context phase (§6.5, §6.6, §7.1): sign the snapshot upload (new path), prepare the
 * build directory, stream the context archive the Package phase made up and extract it, then write
 * spec.json. Returns what completion needs (the signed snapshot URI).
 */
import { createReadStream } from 'node:fs';
import { ActionError } from '../errors.js';
import type { ContextArchive } from '../context/archive.js';
import { formatBytes } from '../format.js';
import { describeEntries, largestEntries, type ContextFootprint } from '../context/footprint.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import type { SandboxProxy } from '../platform/proxy.js';
import type { JsonObject, PreparedBuild } from '../platform/types.js';
import type { PackagedBuild } from './package-phase.js';
import { multipartHint, type BuildSizes } from './sizes.js';
import { buildSpec } from './spec.js';
import { BUILD_DIR, CONTEXT_ARCHIVE, CONTEXT_DIR, SPEC_PATH } from './remote-paths.js';
import { COMMAND_LIMITS_MS, execInSandbox } from './exec.js';
import type { BuildSession } from './session.js';

const HOUSEKEEPING = { timeoutMs: COMMAND_LIMITS_MS.housekeeping };

/** What to do when the platform refuses the context archive as too large (HTTP 413): its size and largest entries, in words. */
export function contextTooLargeAdvice(compressedBytes: number, footprint?: ContextFootprint): string {
  const size = footprint
    ? `${formatBytes(compressedBytes)} compressed, ${formatBytes(footprint.totalBytes)} in ${footprint.fileCount} files`
    : `${formatBytes(compressedBytes)} compressed`;
  const largest = footprint ? largestEntries(footprint) : [];
  return (
    `The build context archive (${size}) is larger than the platform accepts` +
    (largest.length
      ? `; its largest entries: ${describeEntries(largest)}. Add those the build does not need to .dockerignore`
      : ': leave out what the build does not need with a .dockerignore') +
    ', or point the context input at a smaller directory.'
  );
}

export interface UploadOutcome {
  signedUri?: string;
}

/** What the Upload phase sends: the build's plan, prepared build and sizes, and what Package made. */
export interface BuildInputs {
  plan: BuildPlan;
  prep: PreparedBuild;
  sizes: BuildSizes;
  packaged: PackagedBuild;
  /** the context as measured while planning, for a 413's advice */
  footprint?: ContextFootprint;
}

async function signBlobs(
  proxy: SandboxProxy,
  { prep, sizes }: Pick<BuildInputs, 'prep' | 'sizes'>,
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
  { archive, footprint }: { archive: ContextArchive; footprint?: ContextFootprint },
): Promise<void> {
  const { events, now } = s;
  events.status('Uploading build context...');
  // §6.5: upload progress at 0 %, every further 10 %, and 100 %.
  const u0 = now();
  const total = archive.compressedBytes;
  let lastDecile = -1;
  await proxy
    .putFile(
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
    )
    .catch((e: unknown) => {
      if (e instanceof ActionError && e.httpStatus === 413) e.addAdvice(contextTooLargeAdvice(total, footprint));
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
}

export async function uploadBuildInputs(s: BuildSession, proxy: SandboxProxy, inputs: BuildInputs): Promise<UploadOutcome> {
  const { plan, prep, sizes, packaged, footprint } = inputs;
  const signed = await signBlobs(proxy, inputs, s.signal);
  await execInSandbox(s, proxy, { command: 'mkdir', args: ['-p', BUILD_DIR], user: 'root' }, HOUSEKEEPING);
  await execInSandbox(s, proxy, { command: 'chmod', args: ['0777', BUILD_DIR], user: 'root' }, HOUSEKEEPING);
  if (packaged.archive) await uploadContext(s, proxy, { archive: packaged.archive, footprint });
  const spec = buildSpec({
    prepared: prep.raw,
    plan,
    rootfsDiskBytes: sizes.rootfsDiskBytes,
    signedUpload: signed.upload,
    parentDownload: signed.parentDownload,
    dockerConfigJson: packaged.dockerConfigJson,
    dockerCompat: s.req.dockerCompat,
  });
  // the build directory exists from the root mkdir above: the reference client's two more
  // `mkdir -p` of it (before the archive and before the spec) are not sent (docs/protocol.md §6.5)
  await proxy.putFile(SPEC_PATH, Buffer.from(JSON.stringify(spec, null, 2)), s.signal);
  return { signedUri: typeof signed.upload?.uri === 'string' ? signed.upload.uri : undefined };
}
