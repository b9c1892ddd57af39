// The benchmark protocol's machine check: every bench prints the load average and the number of runnable
// processes before it starts, and marks its verdicts as not valid when other work shares the CPUs.
import { readFileSync } from 'node:fs';

/** 1-minute load average above which a bench's figures are not a valid measurement (2-core machines). */
export const BUSY_LOAD1 = 0.3;

export interface MachineLoad {
  load1: number;
  load5: number;
  load15: number;
  /** Runnable processes now (/proc/stat procs_running, this process included). */
  procsRunning: number;
  busy: boolean;
}

/** Reads /proc/loadavg and /proc/stat; on systems without them the machine counts as busy (unknown). */
export function machineLoad(): MachineLoad {
  try {
    const [load1, load5, load15] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).map(Number) as [number, number, number];
    const running = /^procs_running\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'));
    const procsRunning = running ? Number(running[1]) : NaN;
    return { load1, load5, load15, procsRunning, busy: !(load1 <= BUSY_LOAD1) };
  } catch {
    return { load1: NaN, load5: NaN, load15: NaN, procsRunning: NaN, busy: true };
  }
}

/** One line for a bench's header: load averages and runnable processes. */
export function describeLoad(m: MachineLoad): string {
  const state = m.busy ? `BUSY (1-min load above ${BUSY_LOAD1}: figures below are not a valid measurement)` : 'idle';
  return `machine: load average ${m.load1.toFixed(2)} ${m.load5.toFixed(2)} ${m.load15.toFixed(2)}, ${m.procsRunning} runnable process(es) — ${state}`;
}

/** Prints the header line and returns the reading, for `verdict`. */
export function printMachineLoad(): MachineLoad {
  const m = machineLoad();
  console.log(describeLoad(m));
  return m;
}

/** A verdict such as "met" or "MISSED", marked when the machine was busy when the bench started. */
export function verdict(passed: boolean, m: MachineLoad): string {
  const word = passed ? 'met' : 'MISSED';
  return m.busy ? `${word} (machine busy: not a valid measurement)` : word;
}
