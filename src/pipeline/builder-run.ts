/**
 * The Build phase (§7.2, §7.3, §5.3): run the builder as root with its log streamed live, a
 * keepalive while it runs, and the build-timeout. Builder lines are watched for disk-space evidence
 * (§10.1) so a failure can be explained.
 */
import { ActionError } from '../errors.js';
import type { SandboxProxy } from '../platform/proxy.js';
import type { PreparedBuild } from '../platform/types.js';
import { hasDiskSpaceEvidence } from './diagnostics.js';
import { builderPayload } from './spec.js';
import { formatDuration } from '../format.js';
import { execInSandbox } from './exec.js';
import type { BuildSession } from './session.js';
import { OOM_SUFFIX } from '../platform/process.js';

export interface BuilderEvidence {
  sawDiskSpaceEvidence: boolean;
  /** the builder process itself was reported killed by the kernel OOM killer */
  processOomKilled?: boolean;
}

export interface BuilderRun {
  proxy: SandboxProxy;
  prep: PreparedBuild;
  /** filled in while the builder runs, read when explaining a failure */
  evidence: BuilderEvidence;
}

export async function runBuilder(s: BuildSession, { proxy, prep, evidence }: BuilderRun): Promise<void> {
  s.events.status('Running offline rootfs builder...');
  const payload = builderPayload(prep.builder.command);
  const ctl = new AbortController();
  const onAbort = () => ctl.abort();
  s.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, s.req.buildTimeoutMs);
  // §5.3: proxy traffic renews the sandbox's inactivity budget during silent RUN steps.
  const keepalive = setInterval(() => void proxy.health().catch(() => undefined), s.limits.keepaliveMs);
  try {
    await execInSandbox(s, proxy, payload, {
      forward: true,
      signal: ctl.signal,
      onLine: (line) => {
        if (hasDiskSpaceEvidence(line)) evidence.sawDiskSpaceEvidence = true;
      },
    });
  } catch (e) {
    if (e instanceof ActionError && e.message.endsWith(OOM_SUFFIX)) evidence.processOomKilled = true;
    if (timedOut && !s.signal?.aborted) {
      throw new ActionError(`the builder did not finish within ${formatDuration(s.req.buildTimeoutMs)} (build-timeout)`, {
        kind: 'timeout',
        input: 'build-timeout',
        advice: ['Raise the build-timeout input if the build legitimately takes longer.'],
      });
    }
    throw e;
  } finally {
    clearTimeout(timer);
    clearInterval(keepalive);
    s.signal?.removeEventListener('abort', onAbort);
  }
}
