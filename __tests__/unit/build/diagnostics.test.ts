import test from 'node:test';
import assert from 'node:assert/strict';
import { hasOomEvidence, hasDiskSpaceEvidence, maxDiskUsePercent } from '../../../src/build/diagnostics.js';

test('OOM evidence from dmesg', () => {
  assert.ok(hasOomEvidence('[  12.3] Out of memory: Killed process 123 (dockerd)'));
  assert.ok(hasOomEvidence('oom-kill:constraint=CONSTRAINT_NONE'));
  assert.ok(!hasOomEvidence('[    0.0] Linux version 6.1\nEXT4-fs mounted'));
});

test('disk evidence', () => {
  assert.ok(hasDiskSpaceEvidence('write /x: No space left on device'));
  assert.ok(hasDiskSpaceEvidence('ENOSPC'));
  assert.ok(!hasDiskSpaceEvidence('all good'));
});

test('df parser: header ignored, max across filesystems', () => {
  const df = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 95 5 95% /\n/dev/vdb 100 96 4 96% /var/lib/docker\n';
  assert.equal(maxDiskUsePercent(df), 96);
  assert.equal(maxDiskUsePercent('Filesystem 1024-blocks Used Available Capacity Mounted on'), undefined);
});
