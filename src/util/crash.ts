// Named crash points: tests set VLM2VLA_CRASH_AT=<name>
// (optionally <name>@<n> for the n-th visit) and the process kills itself with SIGKILL exactly there,
// to prove that no state is lost.
let visits = new Map<string, number>();

/** Dies with SIGKILL if VLM2VLA_CRASH_AT names this point. A no-op otherwise (one env lookup). */
export function crashPoint(name: string): void {
  const target = process.env.VLM2VLA_CRASH_AT;
  if (target === undefined || target === '') return;
  const [point, nth] = target.split('@');
  if (point !== name) return;
  const count = (visits.get(name) ?? 0) + 1;
  visits.set(name, count);
  if (nth === undefined || Number(nth) === count) process.kill(process.pid, 'SIGKILL');
}

/** For tests in the same process. */
export function resetCrashVisits(): void {
  visits = new Map();
}
