/**
 * Number formatting shared by every message: byte sizes and durations.
 *
 * Byte formatting (docs/protocol.md §2.9, last paragraph): units B, KiB, MiB, GiB,
 * TiB (powers of 1024); a plain integer for bytes; two decimals below 10, one below 100, none
 * otherwise. `4096 MiB` → `4.00 GiB`, `10 GiB` → `10.0 GiB`, `512` → `512 B`.
 *
 * Rounding never produces an out-of-rule string: a value that rounds up to the next band uses
 * that band's precision (9.999 KiB → `10.0 KiB`), and one that rounds up to 1024 of a unit moves
 * to the next unit (1048575 B → `1.00 MiB`, not `1024 KiB`).
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  if (n < 0) return `-${formatBytes(-n)}`;
  if (n < 1024) return `${Math.round(n)} B`;
  let unit = 0;
  let v = n;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  for (;;) {
    const decimals = v < 10 ? 2 : v < 100 ? 1 : 0;
    const text = v.toFixed(decimals);
    const rounded = Number(text);
    if (decimals === 2 && rounded >= 10) {
      v = 10; // 9.995.. rounds to 10.00: show it with the precision of the next band
      continue;
    }
    if (decimals === 1 && rounded >= 100) {
      v = 100;
      continue;
    }
    if (rounded >= 1024 && unit < UNITS.length - 1) {
      v = rounded / 1024;
      unit++;
      continue;
    }
    return `${text} ${UNITS[unit]}`;
  }
}

/** 850 → `850ms`, 1500 → `1.5s`, 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}
