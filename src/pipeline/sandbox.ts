/**
 * The builder sandbox (§5, §6.3): create it under a name derived from the build, wait until it is
 * running, resolve its proxy and probe it; and delete it, with its own short-lived transport so
 * that a cancelled build can still clean up.
 */
import { ActionError, cancelledError, toActionError } from '../errors.js';
import { isTransientError } from '../platform/transient.js';
import type { HttpTransport } from '../platform/transport.js';
import { LifecycleApi } from '../platform/lifecycle-api.js';
import { SandboxProxy, resolveProxyTarget } from '../platform/proxy.js';
import type { PreparedBuild } from '../platform/types.js';
import type { BuildSizes } from './sizes.js';
import { formatDuration } from '../format.js';
import { transportFor } from '../platform/transport.js';
import { execInSandbox } from './exec.js';
import { requireAuth, type BuildSession } from './session.js';

/** A stable, valid sandbox name derived from the build, so an ambiguous create can be found again. */
export function builderSandboxName(buildId: string): string {
  const slug = buildId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `sbx-image-${slug}`.slice(0, 63).replace(/-+$/, '');
}

const FAST_POLL_MS = 250;
const FAST_POLL_WINDOW_MS = 3_000;

export interface StartedSandbox {
  proxy: SandboxProxy;
}

export interface SandboxStart {
  transport: HttpTransport;
  lifecycle: LifecycleApi;
  prep: PreparedBuild;
  sizes: BuildSizes;
  /** runs just before the create is sent: from then on a sandbox may exist */
  onCreating: () => void;
  /** runs as soon as the sandbox id exists, before any wait, so the caller can always delete it */
  onCreated: (id: string, reconciled: boolean) => void;
}

/** Creates the builder sandbox and brings it to a probed, ready proxy. */
export async function startBuilderSandbox(s: BuildSession, start: SandboxStart): Promise<StartedSandbox> {
  const { transport, lifecycle, prep, sizes, onCreating, onCreated } = start;
  const { events, limits, now } = s;
  const name = builderSandboxName(prep.buildId);
  events.sandboxNaming(name); // recorded before anything else, so even a kill right now leaves a trace
  onCreating();
  events.status(`Creating rootfs builder sandbox from ${prep.builder.image}...`);
  const created = await lifecycle.createSandbox(
    {
      image: prep.builder.image,
      resources: { cpus: sizes.builder.cpus, memory_mb: sizes.builder.memoryMb, disk_mb: sizes.builder.diskMb },
      timeout_secs: 300,
      name,
    },
    s.signal,
  );
  const id = created.sandbox_id;
  onCreated(id, created.reconciled === true);
  events.status(`Builder sandbox ${id} created (${created.status})`);

  // §5.2: poll every second until running, within the sandbox-timeout.
  let sandboxUrl = created.sandbox_url;
  let routingHint = created.routing_hint;
  const t0 = now();
  for (;;) {
    if (now() - t0 >= limits.sandboxRunningMs) {
      throw new ActionError(`Sandbox ${id} did not reach 'running' within ${formatDuration(limits.sandboxRunningMs)} (sandbox-timeout)`, {
        kind: 'timeout',
        input: 'sandbox-timeout',
        advice: ['The platform may be out of capacity: re-run the job later, or raise the sandbox-timeout input.'],
      });
    }
    try {
      // the read runs under what is left of the sandbox-timeout: a hung answer cannot outlast it
      const info = await lifecycle.getSandbox(id, s.signal, Math.max(1, limits.sandboxRunningMs - (now() - t0)));
      if (info.status === 'running') {
        if (!sandboxUrl?.trim()) sandboxUrl = info.sandbox_url;
        routingHint ??= info.routing_hint;
        break;
      }
      if (info.status === 'terminated') {
        throw new ActionError(
          `Sandbox ${id} terminated before reaching 'running'${info.termination_reason ? ` (${info.termination_reason})` : ''}`,
          { kind: 'sandbox' },
        );
      }
    } catch (e) {
      if (!isTransientError(e)) throw e;
    }
    // Poll every 250 ms for the first 3 s, then at the contract's 1 s: most sandboxes start fast,
    // and a late one is noticed no later than with a plain 1 s schedule.
    await s.sleep(now() - t0 < FAST_POLL_WINDOW_MS ? Math.min(FAST_POLL_MS, limits.sandboxPollMs) : limits.sandboxPollMs, s.signal);
  }
  events.status(`Rootfs builder sandbox ${id} is running`);

  // §1.5 proxy target, §6.3 readiness probe.
  const target = resolveProxyTarget(sandboxUrl, id, s.deps.env.TENSORLAKE_SANDBOX_PROXY_URL);
  const proxy = new SandboxProxy(transport, { ...target, sandboxId: id, routingHint });
  // The whole probe, retries included, runs under the sandbox-timeout.
  const r0 = now();
  for (;;) {
    const remaining = limits.readinessMs - (now() - r0);
    try {
      await execInSandbox(s, proxy, { command: '/bin/true', args: [] }, { timeoutMs: remaining, limitName: 'sandbox-timeout' });
      return { proxy };
    } catch (e) {
      const transient = isTransientError(e);
      const err = toActionError(e);
      if (err.kind === 'timeout' || (transient && now() - r0 >= limits.readinessMs)) {
        const last = err.kind === 'timeout' ? '' : `: ${err.message}`;
        throw new ActionError(
          `The builder sandbox proxy did not become ready within ${formatDuration(limits.readinessMs)} (sandbox-timeout)${last}`,
          {
            kind: 'timeout',
            input: 'sandbox-timeout',
            cause: e,
            advice: ['Raise the sandbox-timeout input if the platform is slow, or re-run the job later.'],
          },
        );
      }
      if (!transient) throw err;
      await s.sleep(Math.min(1000, Math.max(0, limits.readinessMs - (now() - r0))), s.signal);
    }
  }
}

/** What cleanup must do about the builder sandbox. */
export interface CleanupTarget {
  /** the id, when the create answered */
  id?: string;
  /** the name it was created under (`sbx-image-<build id>`) */
  name: string;
  /**
   * 'none': the create was answered (or refused outright): the id is all there is.
   * 'reconciled': the create was ambiguous and the sandbox was found by name: sweep for duplicates.
   * 'lost': the create was sent but its answer never arrived (cancelled, reset, 5xx): a sandbox may
   * exist, or appear a moment later; look for it by name, and if none shows up, leave the name for
   * the post step instead of declaring it settled.
   */
  sweep: 'none' | 'reconciled' | 'lost';
}

/**
 * Deletes the builder sandbox (§5.5) with a transport of its own, bounded by a budget (5 s when the
 * build was cancelled: GitHub kills the step 7.5 s after SIGINT). Never throws; true when no
 * sandbox of this build can be left running.
 */
export async function cleanupBuilderSandbox(s: BuildSession, target: CleanupTarget): Promise<boolean> {
  const { req, deps } = s;
  const budget = s.signal?.aborted ? s.limits.cancelledCleanupMs : s.limits.cleanupMs;
  const t0 = s.now();
  const transport = transportFor(requireAuth(req), {
    userAgent: deps.userAgent,
    secrets: deps.secrets,
    log: deps.log,
    retry: { ...deps.retry, maxElapsedMs: Math.min(budget, deps.retry?.maxElapsedMs ?? budget) },
    signal: AbortSignal.timeout(budget),
    sleep: deps.sleep,
    now: s.now,
  });
  const lifecycle = new LifecycleApi(transport, req.apiUrl, req.namespace);
  let ok = true;
  if (target.id) {
    try {
      await lifecycle.deleteSandbox(target.id);
      s.events.sandboxDeleted(target.id);
      s.events.status(`Deleted builder sandbox ${target.id}`);
    } catch (e) {
      ok = false;
      s.events.warning(
        `Failed to terminate builder sandbox ${target.id} during cleanup: ${toActionError(e).message}. The post step will try again.`,
      );
    }
  }
  let settled = target.sweep === 'none';
  if (target.sweep !== 'none') {
    try {
      // A lost create may still be on its way: look again, once a second, while the budget lasts.
      const gone = new Set(target.id ? [target.id] : []);
      for (let look = 1; ; look++) {
        const swept = await lifecycle.deleteByName(target.name, undefined, gone);
        for (const id of swept) gone.add(id);
        for (const id of swept) {
          s.events.sandboxDeleted(id);
          s.events.status(`Deleted builder sandbox ${id} (found by its name ${target.name})`);
        }
        if (swept.length > 0 || target.sweep === 'reconciled') {
          settled = true;
          break;
        }
        if (look >= LOST_CREATE_LOOKS || s.now() - t0 + 1000 > budget - 500) break;
        await s.sleep(1000);
      }
      if (!settled) s.events.status(`No builder sandbox named ${target.name} found yet; the post step will look again`);
    } catch (e) {
      ok = false;
      s.events.warning(
        `Could not look for builder sandboxes named ${target.name} during cleanup: ${toActionError(e).message}. The post step will try again.`,
      );
    }
  }
  if (ok && settled) s.events.sandboxNameSettled(target.name);
  return ok;
}

/** How many times cleanup lists sandboxes for one whose create answer was lost. */
const LOST_CREATE_LOOKS = 3;

/**
 * Whether a create that failed may still have made a sandbox: anything but an outright refusal
 * (a 4xx other than 408/409) — cancelled in flight, reset after sending, timed out, 5xx, or a 2xx
 * whose answer could not be decoded.
 */
export function createMayHaveHappened(e: unknown): boolean {
  const err = toActionError(e);
  if (err.kind === 'cancelled' || err.kind === 'transport') return true;
  const st = err.httpStatus;
  if (st === undefined) return false;
  // a 2xx whose answer could not be decoded: the sandbox exists, only its id is unknown
  return (st >= 200 && st < 300) || st >= 500 || st === 408 || st === 409;
}

/**
 * Whether the cleanup also sweeps by name: a sandbox found by name once ('reconciled') may have a
 * twin; one whose id never arrived ('lost') may exist if the create may have reached the platform.
 */
export function sweepFor(known: { sandboxId?: string; reconciled: boolean; error?: ActionError }): CleanupTarget['sweep'] {
  if (known.sandboxId !== undefined) return known.reconciled ? 'reconciled' : 'none';
  return createMayHaveHappened(known.error ?? cancelledError()) ? 'lost' : 'none';
}

/** The platform's reason when the sandbox is terminated ('' when it gives none), else undefined. */
export async function terminationReason(lifecycle: LifecycleApi, id: string): Promise<string | undefined> {
  try {
    const info = await lifecycle.getSandbox(id, AbortSignal.timeout(10_000));
    return info.status === 'terminated' ? (info.termination_reason ?? '') : undefined;
  } catch {
    return undefined;
  }
}
