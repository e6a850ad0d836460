/**
 * The Admission phase (§9.2): poll the build until the platform has verified and admitted the
 * staged chunks, with a heartbeat line per poll and the admission-timeout as the explicit limit.
 */
import { ActionError } from '../errors.js';
import type { PlatformApi } from '../platform/platform-api.js';
import type { Template } from '../platform/types.js';
import { formatDuration } from '../format.js';
import type { BuildSession } from './session.js';

export interface AdmissionWait {
  platform: PlatformApi;
  buildId: string;
  /** runs after every answered poll (the result counts them) */
  onPoll: () => void;
}

export async function waitForAdmission(s: BuildSession, { platform, buildId, onPoll }: AdmissionWait): Promise<Template> {
  const { events, now, req } = s;
  events.status('Verifying and admitting the image into the streaming CAS; this may take minutes for large images...');
  const t0 = now();
  for (let polls = 1; ; polls++) {
    let st: Awaited<ReturnType<PlatformApi['getBuild']>>;
    try {
      // the poll runs under what is left of the admission-timeout
      st = await platform.getBuild(buildId, s.signal, Math.max(1, req.admissionTimeoutMs - (now() - t0)));
    } catch (e) {
      if (now() - t0 >= req.admissionTimeoutMs && !s.signal?.aborted) throw admissionTimeout(req.admissionTimeoutMs, e);
      throw e;
    }
    onPoll();
    const elapsed = now() - t0;
    if (st.status === 'completed') {
      if (!st.template) throw new ActionError('build completed but the status payload has no template', { kind: 'platform' });
      events.status(`Admission: completed after ${formatDuration(elapsed)} (${polls} polls)`);
      return st.template;
    }
    if (st.status === 'failed') {
      throw new ActionError(`streaming image admission failed: ${st.error ?? 'admission failed'}`, {
        kind: 'admission',
        advice: [
          'The platform could not verify the image the builder staged; re-run the build. If it fails again, report the build id to Tensorlake.',
        ],
      });
    }
    if (st.status !== 'ingesting' && st.status !== 'prepared') {
      throw new ActionError(`unexpected build status ${st.status === undefined ? 'None' : `Some(${JSON.stringify(st.status)})`}`, {
        kind: 'platform',
      });
    }
    if (elapsed >= req.admissionTimeoutMs) throw admissionTimeout(req.admissionTimeoutMs);
    const next = Math.min(req.pollIntervalMs, Math.max(0, req.admissionTimeoutMs - elapsed));
    events.status(`Admission: ${st.status}, ${formatDuration(elapsed)} elapsed, next poll in ${formatDuration(next)}`);
    await s.sleep(next, s.signal);
  }
}

function admissionTimeout(limitMs: number, cause?: unknown): ActionError {
  return new ActionError(`timed out waiting for the streaming image admission after ${formatDuration(limitMs)} (admission-timeout)`, {
    kind: 'timeout',
    input: 'admission-timeout',
    cause,
    advice: ['Raise the admission-timeout input, or set wait: false to return while admission continues.'],
  });
}
