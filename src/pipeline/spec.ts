/** docs/protocol.md §7: spec.json assembly and the builder invocation. */
import { ActionError } from '../errors.js';
import type { JsonObject, ProcessStartPayload } from '../platform/types.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import { shellWords } from './shell-words.js';
import { BUILD_DIR, BUILDER_BIN_DIR, BUILDER_PATH_ENV, CONTEXT_DIR, METADATA_PATH, SPEC_PATH } from './remote-paths.js';

export interface SpecInputs {
  /** raw prepare response */
  prepared: JsonObject;
  plan: BuildPlan;
  rootfsDiskBytes: number;
  signedUpload?: JsonObject;
  parentDownload?: JsonObject;
  dockerConfigJson?: string;
  dockerCompat: boolean;
}

export function buildSpec(i: SpecInputs): JsonObject {
  if (typeof i.prepared !== 'object' || i.prepared === null || Array.isArray(i.prepared)) {
    throw new ActionError('platform API returned a non-object rootfs build spec', { kind: 'platform' });
  }
  const spec: JsonObject = structuredClone(i.prepared);
  if (i.signedUpload) {
    spec.upload = i.signedUpload;
    spec.snapshotUri = i.signedUpload.uri;
  }
  if (i.parentDownload) {
    const parent = spec.parent;
    if (typeof parent !== 'object' || parent === null || Array.isArray(parent)) {
      throw new ActionError('prepared parent is not a JSON object', { kind: 'platform' });
    }
    spec.parent = { ...(parent as JsonObject), download: i.parentDownload };
  }
  spec.dockerfile = i.plan.dockerfileText;
  spec.contextDir = CONTEXT_DIR;
  spec.baseImage = i.plan.baseImage;
  if (i.plan.importImageReference) spec.importImageReference = i.plan.importImageReference;
  spec.rootfsDiskBytes = i.rootfsDiskBytes;
  if (i.dockerConfigJson !== undefined) spec.dockerConfigJson = i.dockerConfigJson;
  if (i.dockerCompat) spec.dockerCompat = true;
  return spec;
}

export function builderPayload(command: string): ProcessStartPayload {
  const words = shellWords(command);
  if (words === undefined) {
    throw new ActionError(`invalid rootfs builder command returned by platform API: ${command}`, { kind: 'platform' });
  }
  if (words.length === 0) throw new ActionError('empty rootfs builder command returned by platform API', { kind: 'platform' });
  const [exe, ...rest] = words;
  return {
    command: exe === 'tl-rootfs-build' ? `${BUILDER_BIN_DIR}/tl-rootfs-build` : exe,
    args: [...rest, '--spec', SPEC_PATH, '--metadata-out', METADATA_PATH],
    env: { PATH: BUILDER_PATH_ENV },
    working_dir: BUILD_DIR,
    user: 'root',
  };
}
