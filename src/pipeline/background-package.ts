/**
 * The Package phase run alongside the network phases. Archiving the context is the action's own
 * CPU work and needs nothing from the platform, so a real build starts it right after Plan and lets
 * Prepare and Builder sandbox (requests, then the wait for the sandbox to run) go on meanwhile; the
 * Upload phase is the first that needs the archive and waits for it there. (A plan-only run still
 * packages in the foreground: it has nothing to overlap.)
 *
 * Log groups cannot overlap, so what packaging reports while it runs (status lines, warnings, the
 * last progress line of each kind) is held and replayed inside the Package group when the pipeline
 * collects it. A failure is kept until then too; the pipeline also asks for it at the start of the
 * Builder sandbox phase, so a context that cannot be archived stops the build before a sandbox is
 * created whenever packaging has already failed by then. An abandoned packaging (the build failed
 * or was cancelled elsewhere) is aborted, and its archive removed once it settles.
 */
import { formatDuration } from '../format.js';
import type { BuildEvents, TransferProgress } from './events.js';
import { archiveBuildContext, type PackageInput, type PackagedBuild } from './package-phase.js';
import type { BuildSession } from './session.js';

type HeldEvent = { kind: 'status' | 'warning'; message: string } | { kind: 'progress'; progress: TransferProgress };

export interface BackgroundPackaging {
  /** The failure, once packaging has failed (undefined while it runs or after it succeeded). */
  failure(): unknown;
  /** How long packaging took, once it has finished. */
  elapsedMs(): number | undefined;
  /**
   * Waits for packaging, replays what it reported into `events` (call inside the Package phase)
   * and returns the packaged build, or throws its error.
   */
  collect(events: BuildEvents): Promise<PackagedBuild>;
  /** Stops packaging if it still runs and removes its archive (the build did not get to use it). */
  abandon(): Promise<void>;
}

/** A BuildSession whose events are held and whose signal also fires when the packaging is abandoned. */
function heldSession(s: BuildSession, held: HeldEvent[], signal: AbortSignal): BuildSession {
  const events: BuildEvents = {
    ...s.events,
    status: (message) => held.push({ kind: 'status', message }),
    warning: (message) => held.push({ kind: 'warning', message }),
    progress: (progress) => {
      // only the latest line of each transfer is worth replaying
      const i = held.findIndex((h) => h.kind === 'progress' && h.progress.kind === progress.kind);
      if (i >= 0) held.splice(i, 1);
      held.push({ kind: 'progress', progress });
    },
  };
  return { ...s, events, signal };
}

/** Starts archiving the context; the credentials read while planning come back with the archive. */
export function startBackgroundPackaging(s: BuildSession, input: PackageInput): BackgroundPackaging {
  const held: HeldEvent[] = [];
  const abandoned = new AbortController();
  const signal = s.signal ? AbortSignal.any([s.signal, abandoned.signal]) : abandoned.signal;
  const started = s.now();
  let failed: { error: unknown } | undefined;
  let finishedAt: number | undefined;
  // started on the next turn of the event loop: the request that follows goes out first instead of
  // waiting for the archiver's first slice of synchronous work
  const work = new Promise<void>((resolve) => setImmediate(resolve))
    // the context summary reaches the result when the Package phase collects it, like the events:
    // a build that fails before then shows none, whichever finished first
    .then(() => archiveBuildContext(heldSession(s, held, signal), { ...input, onArchived: () => undefined }))
    .then(
      (p): PackagedBuild => {
        finishedAt = s.now();
        return { ...p, ...input.credentials };
      },
      (e: unknown) => {
        failed = { error: e };
        throw e;
      },
    );
  work.catch(() => undefined); // collected (or abandoned) later

  return {
    failure: () => failed?.error,
    elapsedMs: () => (finishedAt === undefined ? undefined : Math.round(finishedAt - started)),
    async collect(events) {
      const waitFrom = s.now();
      try {
        const p = await work;
        if (p.context) input.onArchived(p.context);
        return p;
      } finally {
        for (const h of held) {
          if (h.kind === 'progress') events.progress(h.progress);
          else if (h.kind === 'status') events.status(h.message);
          else events.warning(h.message);
        }
        held.length = 0;
        if (finishedAt !== undefined) {
          events.status(
            `Packaged in ${formatDuration(Math.round(finishedAt - started))} while the platform prepared the build and started the builder sandbox` +
              ` (the upload waited ${formatDuration(Math.round(Math.max(0, finishedAt - waitFrom)))} for it)`,
          );
        }
      }
    },
    async abandon() {
      abandoned.abort(new Error('the build ended before it needed the context archive'));
      const p = await work.catch(() => undefined);
      await p?.archive?.cleanup().catch(() => undefined);
    },
  };
}
