/** Test doubles for the pipeline's ports: an events sink and a log that drop everything. */
import type { Log } from '../../src/log.js';
import type { BuildEvents } from '../../src/pipeline/events.js';

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
