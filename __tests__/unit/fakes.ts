/** Test doubles for the pipeline's ports (an events sink and a log that drop everything) and a build result. */
import type { Log } from '../../src/log.js';
import type { BuildEvents } from '../../src/pipeline/events.js';
import type { BuildResult } from '../../src/pipeline/result.js';

export const silentLog: Log = { debug() {}, info() {}, warning() {} };

export const nullEvents: BuildEvents = {
  phaseStart() {},
  phaseEnd() {},
  status() {},
  buildLog() {},
  progress() {},
  planWarning() {},
  warning() {},
  sandboxNaming() {},
  sandboxNameSettled() {},
  sandboxCreated() {},
  sandboxDeleted() {},
};

/** A registered ext4 Dockerfile build's result with nothing else in it; `over` sets the rest. */
export function buildResult(over: Partial<BuildResult> = {}): BuildResult {
  return {
    status: 'registered',
    mode: 'dockerfile',
    rootfsFormat: 'ext4',
    sandboxDeleted: true,
    warnings: [],
    timings: [],
    admissionPolls: 0,
    ...over,
  };
}
