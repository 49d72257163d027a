import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ: 100 on every Linux Node supports). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) used so far by the calling thread, from /proc/thread-self/stat;
 * null where that file does not exist (not Linux). process.cpuUsage() cannot do this: inside a
 * worker thread it reports the whole process, and /healthz and the bench want each stage's own
 * share (main thread vs writer thread).
 */
export function threadCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    // The command name (field 2) may contain spaces and parentheses: count from its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    const ticks = Number(rest[11]) + Number(rest[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : null;
  } catch {
    return null;
  }
}
