import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { hasOomEvidence, hasDiskSpaceEvidence, maxDiskUsePercent } from '../../../src/pipeline/diagnostics.js';

test('OOM evidence from dmesg', () => {
  assert.equal(hasOomEvidence('[  12.3] Out of memory: Killed process 123 (dockerd)'), true);
  assert.equal(hasOomEvidence('oom-kill:constraint=CONSTRAINT_NONE'), true);
  assert.equal(hasOomEvidence('[    0.0] Linux version 6.1\nEXT4-fs mounted'), false);
});

test('disk evidence', () => {
  assert.equal(hasDiskSpaceEvidence('write /x: No space left on device'), true);
  assert.equal(hasDiskSpaceEvidence('ENOSPC'), true);
  assert.equal(hasDiskSpaceEvidence('all good'), false);
});

test('df parser: header ignored, max across filesystems', () => {
  const df = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 95 5 95% /\n/dev/vdb 100 96 4 96% /var/lib/docker\n';
  assert.equal(maxDiskUsePercent(df), 96);
  assert.equal(maxDiskUsePercent('Filesystem 1024-blocks Used Available Capacity Mounted on'), undefined);
});
