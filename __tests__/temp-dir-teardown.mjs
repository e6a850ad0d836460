// jest globalTeardown: removes the run's temp directory (see temp-dir-setup.mjs).
import { rmSync } from 'node:fs';

export default function teardown() {
  const dir = process.env.SBX_JEST_TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
