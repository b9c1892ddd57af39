// Test helpers: run CLI code in-process and capture what it prints.
import { main } from './main.ts';

/** Runs `f` with console.log and console.error captured. */
export async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    return { value: await f(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Runs the CLI entry point on `argv`: its exit code and output. */
export async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await quietly(() => main(argv));
  return { code: r.value, out: r.out, err: r.err };
}
