import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { formatBytes } from '../../src/format.js';

test('formatBytes: docs/protocol.md §2.9 byte formatting', () => {
  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [10 * KiB, '10.0 KiB'],
    [99.5 * KiB, '99.5 KiB'],
    [100 * KiB, '100 KiB'],
    [1000 * KiB, '1000 KiB'],
    [4096 * MiB, '4.00 GiB'],
    [10 * GiB, '10.0 GiB'],
    [2 * 1024 * GiB, '2.00 TiB'],
    [5000 * 1024 * GiB, '5000 TiB'],
    // rounding never breaks the rule
    [9.999 * KiB, '10.0 KiB'],
    [99.97 * KiB, '100 KiB'],
    [MiB - 1, '1.00 MiB'],
  ];
  for (const [n, want] of cases) assert.equal(formatBytes(n), want, String(n));
  assert.equal(formatBytes(-2048), '-2.00 KiB');
});
