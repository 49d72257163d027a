/**
 * CPU time and peak RSS of other processes from /proc (Linux), for the benchmarks that run the
 * daemon as several processes: utime + stime of /proc/PID/stat (USER_HZ = 100), VmHWM of
 * /proc/PID/status. A process that is gone reads as null: the caller reports what it could read.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  cpuMs: number;
  peakRssMb: number;
}

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export function sampleProcess(pid: number | undefined): ProcSample | null {
  if (!pid) return null;
  const f = statFields(pid);
  if (!f) return null;
  let peakRssMb = 0;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) peakRssMb = Math.round(Number(m[1]) / 1024);
  } catch {
    return null;
  }
  return { cpuMs: (Number(f[11]) + Number(f[12])) * 10, peakRssMb };
}

/** `pid` and its direct children (PostgreSQL: the postmaster and its backends): CPU summed, peak RSS the largest one's. */
export function sampleProcessTree(pid: number | undefined): ProcSample | null {
  const root = sampleProcess(pid);
  if (!root || !pid) return root;
  let cpuMs = root.cpuMs;
  let peakRssMb = root.peakRssMb;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    // Field 4 of stat is the parent pid (index 1 after the command name).
    if (!f || Number(f[1]) !== pid) continue;
    const s = sampleProcess(Number(name));
    if (s) {
      cpuMs += s.cpuMs;
      peakRssMb = Math.max(peakRssMb, s.peakRssMb);
    }
  }
  return { cpuMs, peakRssMb };
}

export function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}
