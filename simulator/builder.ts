/**
 * `/usr/local/bin/tl-rootfs-build [...] --spec S --metadata-out M` emulation (§7, §8).
 * Reads and validates the spec the client wrote, emits BuildKit-like log lines over time
 * (one step per Dockerfile instruction, split by the action's own BuildKit parser, so the steps are
 * the instructions the planner saw), then writes metadata.json: durable ext4 metadata, or
 * — for rootfsFormat cas-streaming — stages a real content-addressed synthetic image.
 */
import type { CmdCtx } from './command-context.js';
import { syntheticImage, type ImageFile } from './image.js';
import { FsError, fileSize } from './memfs.js';
import type { ExitResult } from './processes.js';
import type { JsonObject } from './types.js';
import { parseDockerfile, type DockerInstruction } from '../src/dockerfile/parse.js';
import { formatBytes, isNonNegInt, isObject, sha256Hex } from './util.js';

class SpecError extends Error {}

type Line = { text: string; stream: 'stdout' | 'stderr'; step?: string; run?: boolean; fail?: boolean };

function validateSpec(c: CmdCtx, spec: unknown): JsonObject {
  const fail = (m: string): never => {
    throw new SpecError(m);
  };
  if (!isObject(spec)) fail('the spec must be a JSON object');
  const s = spec as JsonObject;
  for (const k of ['buildId', 'snapshotId', 'dockerfile', 'baseImage', 'contextDir', 'rootfsNodeKind']) {
    if (typeof s[k] !== 'string' || (s[k] as string).trim() === '') fail(`missing required field '${k}' (string)`);
  }
  if (!isNonNegInt(s.rootfsDiskBytes) || s.rootfsDiskBytes === 0) fail("missing required field 'rootfsDiskBytes' (positive integer)");
  if (s.rootfsNodeKind !== 'base' && s.rootfsNodeKind !== 'diff')
    fail(`rootfsNodeKind must be 'base' or 'diff', got '${String(s.rootfsNodeKind)}'`);
  if (!isObject(s.builder)) fail("missing 'builder' object (the prepare response must be passed through verbatim)");
  if (s.rootfsFormat !== undefined && s.rootfsFormat !== 'cas-streaming') fail(`unsupported rootfsFormat '${String(s.rootfsFormat)}'`);
  if (s.dockerCompat !== undefined && s.dockerCompat !== true) fail('dockerCompat must be true when present');
  if (s.dockerConfigJson !== undefined) {
    if (typeof s.dockerConfigJson !== 'string') fail('dockerConfigJson must be a string containing JSON');
    let parsed: unknown;
    try {
      parsed = JSON.parse(s.dockerConfigJson as string);
    } catch {
      fail('dockerConfigJson is not valid JSON');
    }
    if (!isObject(parsed) || !isObject(parsed.auths)) fail('dockerConfigJson must be a JSON object with an "auths" object');
  }
  if (s.importImageReference !== undefined) {
    if (typeof s.importImageReference !== 'string' || s.importImageReference.trim() === '')
      fail('importImageReference must be a non-empty string');
  } else {
    const dir = s.contextDir as string;
    const st = c.sb.fs.stat(dir);
    if (!st) fail(`context directory ${dir} does not exist: the build context was not uploaded/extracted`);
    if (st?.type !== 'dir') fail(`context directory ${dir} is not a directory`);
  }
  if (typeof s.snapshotUri !== 'string' || s.snapshotUri === '') fail("missing 'snapshotUri': nowhere to upload the snapshot");
  if (!isObject(s.upload)) {
    fail(
      typeof s.snapshotRelPath === 'string'
        ? "missing 'upload': with snapshotRelPath the client must sign the upload (POST /api/v1/blob/sign) and splice the answer into spec.upload"
        : "missing 'upload' block (the prepare response must be passed through verbatim)",
    );
  }
  const upload = s.upload as JsonObject;
  if (typeof s.snapshotRelPath === 'string' && upload.uri !== s.snapshotUri) {
    fail(`snapshotUri '${String(s.snapshotUri)}' does not match the signed upload uri '${String(upload.uri)}'`);
  }
  const build = c.world.builds.get(s.buildId as string);
  if (!build || build.organizationId !== c.sb.organizationId || build.projectId !== c.sb.projectId)
    fail(`build '${String(s.buildId)}' is not known to the platform`);
  if (build!.status !== 'prepared') fail(`build '${build!.buildId}' is '${build!.status}', not 'prepared'`);
  if (build!.expectedSnapshotUri === undefined) fail(`the upload of build '${build!.buildId}' was never signed (POST /api/v1/blob/sign)`);
  if (build!.expectedSnapshotUri !== s.snapshotUri)
    fail(`snapshotUri '${String(s.snapshotUri)}' is not the upload target of build '${build!.buildId}' (${build!.expectedSnapshotUri})`);
  if ((s.rootfsFormat === 'cas-streaming') !== (build!.rootfsFormat === 'cas-streaming'))
    fail(`rootfsFormat '${String(s.rootfsFormat ?? 'ext4')}' differs from the prepared build`);
  if (s.rootfsNodeKind === 'diff') {
    if (!isObject(s.parent) || typeof s.parent.parentManifestUri !== 'string') fail('diff build without parent.parentManifestUri');
    if (typeof s.snapshotRelPath === 'string' && !isObject((s.parent as JsonObject).download)) {
      fail('diff build without parent.download: the client must sign the parent manifest (get_blob) on the new path');
    }
  }
  return s;
}

function planLines(spec: JsonObject, ctxFiles: number, ctxBytes: number): Line[] {
  const lines: Line[] = [];
  const err = (text: string, extra: Partial<Line> = {}): void => void lines.push({ text, stream: 'stderr', ...extra });
  const base = spec.baseImage as string;
  if (typeof spec.importImageReference === 'string') {
    const ref = spec.importImageReference;
    err(`#1 [internal] resolve image config for ${ref}`, { step: 'resolve' });
    err('#1 DONE 0.3s');
    err(`#2 pulling ${ref}`, { step: 'pull', run: true });
    err(`#2 sha256:${sha256Hex(ref).slice(0, 12)} ${formatBytes(31457280)} / ${formatBytes(31457280)} done`);
    err('#2 DONE 4.1s');
    err('#3 unpacking layers into rootfs', { step: 'unpack' });
    err('#3 DONE 1.2s');
    return lines;
  }
  const dockerfile = spec.dockerfile as string;
  err('#0 building with "default" instance using docker driver');
  err('#1 [internal] load build definition from Dockerfile');
  err(`#1 transferring dockerfile: ${Buffer.byteLength(dockerfile)}B done`);
  err('#1 DONE 0.0s');
  err(`#2 [internal] load metadata for ${base}`);
  err('#2 DONE 0.4s');
  err('#3 [internal] load build context');
  err(`#3 transferring context: ${ctxFiles} files, ${formatBytes(ctxBytes)} done`);
  err('#3 DONE 0.0s');
  let instrs: DockerInstruction[];
  try {
    instrs = parseDockerfile(dockerfile).instructions;
  } catch (e) {
    err(`ERROR: failed to solve: dockerfile parse error on ${(e as Error).message}`, { fail: true });
    return lines;
  }
  instrs.forEach((ins, i) => {
    const n = 4 + i;
    const text = ins.original.trim();
    err(`#${n} [${i + 1}/${instrs.length}] ${text}`, { step: text, run: ins.keyword === 'RUN' });
    if (ins.keyword === 'RUN') err(`#${n} 0.${((i * 137) % 900) + 100} ${(ins.args[0] ?? '').slice(0, 80).trim()}`);
    if (ins.keyword === 'FROM') err(`#${n} resolve ${base} done`);
    err(`#${n} DONE 0.${(i * 53) % 9}s`);
  });
  return lines;
}

export async function runBuilder(c: CmdCtx): Promise<ExitResult> {
  const { sb, world, proc } = c;
  const args = c.args;
  const argValue = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i >= 0) return args[i + 1];
    const eq = args.find((a) => a.startsWith(flag + '='));
    return eq?.slice(flag.length + 1);
  };
  const specPath = argValue('--spec');
  const metaPath = argValue('--metadata-out');
  if (!specPath || !metaPath) {
    c.emit('error: the following required arguments were not provided:', 'stderr');
    if (!specPath) c.emit('  --spec <SPEC>', 'stderr');
    if (!metaPath) c.emit('  --metadata-out <METADATA_OUT>', 'stderr');
    c.emit('Usage: tl-rootfs-build --spec <SPEC> --metadata-out <METADATA_OUT>', 'stderr');
    return { kind: 'exit', code: 2 };
  }
  if (c.user !== 'root') {
    c.emit('Error: tl-rootfs-build must run as root (docker, loop devices and /var/lib/docker need it)', 'stderr');
    return { kind: 'exit', code: 1 };
  }
  c.emit(`SIMULATED tl-rootfs-build 0.5.67-sim (the local simulator: no image is really built) starting (spec ${specPath})`);
  let spec: JsonObject;
  try {
    const raw = sb.fs.readFile(specPath);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      c.emit(`Error: failed to parse spec ${specPath}: ${(e as Error).message}`, 'stderr');
      return { kind: 'exit', code: 1 };
    }
    spec = validateSpec(c, parsed);
  } catch (e) {
    if (e instanceof FsError) c.emit(`Error: failed to read spec ${specPath}: ${e.message}`, 'stderr');
    else if (e instanceof SpecError) c.emit(`Error: invalid build spec ${specPath}: ${e.message}`, 'stderr');
    else throw e;
    return { kind: 'exit', code: 1 };
  }
  const cas = spec.rootfsFormat === 'cas-streaming';
  c.emit(
    `build ${String(spec.buildId)}: ${String(spec.rootfsNodeKind)} rootfs, ${cas ? 'cas-streaming (chunked ext4)' : 'ext4 durable snapshot'}, target ${formatBytes(spec.rootfsDiskBytes as number)}`,
  );

  // context files
  const imgFiles: ImageFile[] = [];
  let ctxBytes = 0;
  if (spec.importImageReference === undefined) {
    for (const { path, node } of sb.fs.walk(spec.contextDir as string)) {
      if (node.type === 'file') {
        // a spilled (large) file enters the synthetic image as its size and digest, not its bytes
        const data = node.spill ? Buffer.from(`spilled ${node.spill.size} B sha256:${node.spill.sha256 ?? '?'}`) : node.data;
        imgFiles.push({ path, type: 'file', mode: node.mode, data });
        ctxBytes += fileSize(node);
      } else if (node.type === 'symlink') imgFiles.push({ path, type: 'symlink', mode: node.mode, target: node.target });
      else imgFiles.push({ path, type: 'dir', mode: node.mode });
    }
  }
  const lines = planLines(spec, imgFiles.filter((f) => f.type === 'file').length, ctxBytes);
  const output = world.faults.take('builderOutput');
  if (output) lines.splice(Math.min(lines.length, 1), 0, ...output.lines.map((text) => ({ text, stream: output.stream ?? 'stdout' })));

  // faults
  const buildName = world.builds.get(String(spec.buildId))?.name;
  const forThisBuild = (f: { templateName?: string }): boolean => f.templateName === undefined || f.templateName === buildName;
  const failRule =
    world.faults.take('builderFail', forThisBuild) ??
    world.faults.take('builderOom', forThisBuild) ??
    world.faults.take('builderEnospc', forThisBuild);
  const term = world.faults.take(
    'terminateSandbox',
    (f) => f.afterBuilderLines !== undefined && (f.sandboxId === undefined || f.sandboxId === sb.id),
  );
  const firstRun = lines.findIndex((l) => l.run);
  const failAt = failRule ? Math.min(failRule.afterLines ?? (firstRun >= 0 ? firstRun + 1 : lines.length), lines.length) : -1;
  let emitted = 2; // the two lines written above
  const count = (): void => {
    emitted++;
    if (term && emitted >= (term.afterBuilderLines ?? 0))
      sb.terminate(term.reason ?? `terminated by the platform after ${emitted} builder lines (injected fault)`);
  };
  if (term && emitted >= (term.afterBuilderLines ?? 0)) sb.terminate(term.reason ?? 'terminated by the platform (injected fault)');
  await c.sleep(world.opts.builderLineDelayMs);

  const stepOf = (i: number): string => {
    for (let j = Math.min(i, lines.length - 1); j >= 0; j--) if (lines[j].step) return lines[j].text.split(' ')[0];
    return '#0';
  };
  for (let i = 0; i <= lines.length; i++) {
    if (i === failAt && failRule) {
      const step = stepOf(i - 1);
      const runLine = lines
        .slice(0, i)
        .reverse()
        .find((l) => l.run);
      const cmd = runLine ? runLine.text.replace(/^#\d+ \[\d+\/\d+\] RUN\s*/, '') : 'docker build';
      if (failRule.kind === 'builderFail') {
        const code = failRule.exitCode ?? 1;
        c.emit(`${step} ERROR: process "/bin/sh -c ${cmd}" did not complete successfully: exit code: ${code}`, 'stderr');
        c.emit(`Error: docker build failed: ${failRule.message ?? `exit code: ${code}`}`, 'stderr');
        return { kind: 'exit', code };
      }
      if (failRule.kind === 'builderEnospc') {
        sb.diskFull = true;
        if (failRule.logLines === false) {
          // the disk is full but the log says nothing about it (only df shows it)
          c.emit(`${step} ERROR: failed to export layer: exit status 1`, 'stderr');
          c.emit('Error: docker build failed: exit status 1', 'stderr');
          return { kind: 'exit', code: 1 };
        }
        c.emit(
          `${step} 2.417 write /var/lib/docker/overlay2/${sha256Hex(cmd).slice(0, 24)}/diff/usr/lib/libbig.so: no space left on device`,
          'stderr',
        );
        c.emit(`${step} ERROR: failed to copy files: copy file range failed: no space left on device`, 'stderr');
        c.emit('Error: docker build failed: No space left on device (os error 28)', 'stderr');
        return { kind: 'exit', code: 1 };
      }
      // OOM: the process is reported oom_killed; dmesg shows the kill unless the rule says not to
      if (failRule.dmesg !== false) sb.oomKills.push({ pid: proc.pid, command: 'python3', at: Date.now() });
      c.emit(`${step} Killed`, 'stderr');
      return { kind: 'oom' };
    }
    if (i === lines.length) break;
    c.emit(lines[i].text, lines[i].stream);
    if (lines[i].fail) return { kind: 'exit', code: 1 };
    count();
    await c.sleep(world.opts.builderLineDelayMs);
  }

  const image = syntheticImage(
    { baseImage: spec.baseImage as string, dockerfile: spec.dockerfile as string, files: imgFiles },
    world.opts.chunkSizeBytes,
  );
  let metadata: JsonObject;
  if (cas) {
    const staged = world.chunks.stage(spec.snapshotUri as string, image, world.opts.chunkSizeBytes, {
      snapshotId: spec.snapshotId as string,
      buildId: spec.buildId as string,
      rootfsDiskBytes: spec.rootfsDiskBytes as number,
    });
    c.emit(
      `staging content-addressed image: ${formatBytes(image.length)} in ${staged.manifest.chunks.length} chunks of ${formatBytes(world.opts.chunkSizeBytes)}`,
    );
    count();
    await c.sleep(world.opts.builderLineDelayMs);
    c.emit(`staged manifest for ${String(spec.snapshotUri)} (image ${staged.manifest.imageDigest})`);
    count();
    metadata = {
      rootfsFormat: 'cas-streaming',
      stagedArtifact: 'chunked-ext4',
      snapshotId: spec.snapshotId as string,
      imageSizeBytes: image.length,
    };
  } else {
    c.emit(`exporting rootfs to ext4 (${formatBytes(spec.rootfsDiskBytes as number)})`);
    count();
    await c.sleep(world.opts.builderLineDelayMs);
    c.emit(`uploading snapshot (${formatBytes(image.length)}) to ${String(spec.snapshotUri)}`);
    count();
    world.snapshots.set(spec.snapshotUri as string, {
      sizeBytes: image.length,
      buildId: spec.buildId as string,
      rootfsDiskBytes: spec.rootfsDiskBytes as number,
    });
    metadata = {
      snapshot_id: spec.snapshotId as string,
      snapshot_uri: spec.snapshotUri as string,
      snapshot_format_version: 'durable_archive_v1',
      snapshot_size_bytes: image.length,
      rootfs_disk_bytes: spec.rootfsDiskBytes as number,
      rootfs_node_kind: spec.rootfsNodeKind as string,
    };
    if (isObject(spec.parent) && typeof spec.parent.parentManifestUri === 'string')
      metadata.parent_manifest_uri = spec.parent.parentManifestUri;
  }
  try {
    sb.fs.writeFile(metaPath, Buffer.from(JSON.stringify(metadata, null, 2) + '\n'), { user: 'root' });
  } catch (e) {
    c.emit(`Error: failed to write metadata ${metaPath}: ${e instanceof FsError ? e.message : String(e)}`, 'stderr');
    return { kind: 'exit', code: 1 };
  }
  c.emit(`wrote metadata to ${metaPath}`);
  count();
  return { kind: 'exit', code: 0 };
}
