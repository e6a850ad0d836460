// jest globalSetup: every test file's temp directories (projects, action runs, simulator spills, ...)
// go below one directory for the whole run, removed by temp-dir-teardown.mjs, so a run leaves
// nothing in the system temp directory even where a test does not clean up after itself. The
// workers inherit TMPDIR (os.tmpdir() reads it); action processes get RUNNER_TEMP below it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-jest-'));
  process.env.SBX_JEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
}
