/** The Plan phase: read the Dockerfile (bounded, strictly decoded) and plan it, or plan an import. No network. */
import { open } from 'node:fs/promises';
import { ActionError, toActionError } from '../errors.js';
import { planDockerfile, planImport, decodeDockerfile, MAX_DOCKERFILE_BYTES, type BuildPlan } from '../dockerfile/plan.js';
import { withBuildRecord } from '../images/build-record.js';
import * as os from 'node:os';
import { LARGE_CONTEXT_BYTES, describeEntries, footprintOf, largestEntries, type ContextFootprint } from '../context/footprint.js';
import { scanContext, type ScanResult } from '../context/walk.js';
import { formatBytes } from '../format.js';
import type { BuildEvents } from './events.js';
import type { BuildRequest } from './session.js';

/** Reads at most MAX_DOCKERFILE_BYTES + 1 bytes, so a huge file is refused without reading it all. */
export async function readDockerfile(path: string, display: string): Promise<string> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new ActionError(`Dockerfile not found: ${display} (${e.code ?? e.message})`, { kind: 'input', input: 'dockerfile' });
  });
  try {
    const buf = Buffer.alloc(MAX_DOCKERFILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    try {
      return decodeDockerfile(buf.subarray(0, length));
    } catch (e) {
      throw toActionError(e, 'plan').addAdvice(`Check the dockerfile input (${display}).`);
    }
  } finally {
    await fh.close();
  }
}

export async function planBuild(req: BuildRequest, events: BuildEvents): Promise<BuildPlan> {
  let plan: BuildPlan;
  if (req.source.kind === 'import') {
    events.status(`Importing registry image ${req.source.image}`);
    plan = planImport({ reference: req.source.image, name: req.name });
  } else {
    events.status(`Loading Dockerfile ${req.source.dockerfileInput}`);
    for (const w of req.pathWarnings) events.warning(w);
    const text = await readDockerfile(req.source.dockerfile, req.source.dockerfileInput);
    plan = planDockerfile({ text, dockerfilePath: req.source.dockerfile, contextDir: req.source.context, name: req.name });
    plan.dockerfilePath = req.source.dockerfileInput;
  }
  if (req.buildRecord) plan.dockerfileText = withBuildRecord(plan.dockerfileText, req.buildRecord);
  for (const w of plan.warnings) events.planWarning(w, plan.dockerfilePath);
  if (req.dockerCompat) {
    events.warning(
      'Docker compatibility mode enabled: uses Docker/BuildKit export for rootfs materialisation; can be slower and may need a larger builder disk.',
    );
  }
  events.status(`Selected image name ${plan.name}`);
  events.status(`Base image ${plan.baseImage}${plan.additionalRefs.length ? `; other images: ${plan.additionalRefs.join(', ')}` : ''}`);
  return plan;
}

/** The context as planning walked it: its footprint, and the walk itself (the archive reuses it). */
export interface MeasuredContext {
  footprint: ContextFootprint;
  walk: ScanResult;
}

/**
 * Walks the build context as it will be uploaded (`.dockerignore` applied) before any builder
 * sandbox exists and measures it: its size and largest files and directories, with a warning above
 * LARGE_CONTEXT_BYTES. A `.dockerignore` pattern Docker rejects, a name that is not UTF-8 or an
 * unlistable directory fails here, before any network call. The archive is made from this walk
 * (it checks that every file it opens is still the one walked), so the context is walked once.
 * `tmpDir` is where the archive will be written (its own archives there are left out); a
 * cancelled run stops the walk (`signal`). Import builds have no context.
 */
export async function measureBuildContext(
  req: BuildRequest,
  events: BuildEvents,
  where: { tmpDir?: string; signal?: AbortSignal } = {},
): Promise<MeasuredContext | undefined> {
  if (req.source.kind !== 'dockerfile') return undefined;
  const walk = await scanContext(req.source.context, {
    dockerfilePath: req.source.dockerfile,
    outputDir: where.tmpDir ?? os.tmpdir(),
    signal: where.signal,
  });
  const f = footprintOf(walk.entries);
  events.status(`Build context: ${f.fileCount} files, ${formatBytes(f.totalBytes)} (after .dockerignore)`);
  if (f.largestDirectories.length) events.status(`Largest directories: ${describeEntries(f.largestDirectories)}`);
  if (f.largestFiles.length) events.status(`Largest files: ${describeEntries(f.largestFiles)}`);
  if (f.totalBytes > LARGE_CONTEXT_BYTES) {
    events.warning(
      `The build context is ${formatBytes(f.totalBytes)}, more than ${formatBytes(LARGE_CONTEXT_BYTES)}: every build uploads all of it. ` +
        `Largest: ${describeEntries(largestEntries(f))}. Add what the build does not need to .dockerignore, or point the context input at a smaller directory.`,
    );
  }
  return { footprint: f, walk };
}
