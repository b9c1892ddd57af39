// Renders a compiled Jinja chat template in-process under a budget: evaluation steps, wall time,
// characters produced, items per list and `range()` length. A template is code from an untrusted
// file; vetting in a child process (vet.ts) catches what a probe conversation triggers, and this
// budget covers every later render, whose content the probe never saw (a template that loops only
// when a message contains "boom"). @huggingface/jinja itself has no budget: `range(1e8)` aborts V8.
import { Environment, Interpreter } from '@huggingface/jinja';
import type { Template } from '@huggingface/jinja';

export interface RenderBudget {
  /** Wall-clock limit for one render (ms). */
  timeMs: number;
  /** Most AST evaluations in one render. */
  steps: number;
  /** Most characters of strings produced, summed over the render (bounds memory too). */
  chars: number;
  /** Longest list (also the longest `range()`). */
  items: number;
}

/** Generous for real templates (a long SFT conversation renders in ~2·10⁴ steps and < 5 ms);
 *  tight enough that a hostile template stops within about a second and a few hundred MB. */
export const DEFAULT_RENDER_BUDGET: RenderBudget = { timeMs: 1_000, steps: 2_000_000, chars: 64 * 1024 * 1024, items: 100_000 };

/** Thrown out of the interpreter when a budget runs out; chat-template.ts turns it into a typed error. */
export class TemplateBudgetExceeded extends Error {}

/** The part of the interpreter's runtime API used here (the package's .d.ts files import './runtime'
 *  without an extension, which NodeNext resolution cannot follow, so the class arrives untyped). */
interface JinjaValue {
  type: string;
  value: unknown;
}
interface JinjaEnvironment {
  set(name: string, value: unknown): unknown;
}
interface JinjaInterpreter {
  evaluate(statement: unknown, environment: JinjaEnvironment): JinjaValue;
  run(program: unknown): JinjaValue;
}
const BaseInterpreter = Interpreter as unknown as new (env: JinjaEnvironment) => JinjaInterpreter;
const newEnvironment = () => new (Environment as unknown as new () => JinjaEnvironment)();

class BudgetedInterpreter extends BaseInterpreter {
  #steps = 0;
  #chars = 0;
  readonly #deadline: number;

  constructor(
    env: JinjaEnvironment,
    readonly budget: RenderBudget,
  ) {
    super(env);
    this.#deadline = performance.now() + budget.timeMs;
  }

  override evaluate(statement: unknown, environment: JinjaEnvironment): JinjaValue {
    if (++this.#steps > this.budget.steps) throw new TemplateBudgetExceeded(`took more than ${this.budget.steps} evaluation steps`);
    if ((this.#steps & 1023) === 0 && performance.now() > this.#deadline)
      throw new TemplateBudgetExceeded(`did not finish within ${this.budget.timeMs} ms`);
    const value = super.evaluate(statement, environment);
    if (value.type === 'StringValue') {
      this.#chars += (value.value as string).length;
      if (this.#chars > this.budget.chars) throw new TemplateBudgetExceeded(`produced more than ${this.budget.chars} characters`);
    } else if (value.type === 'ArrayValue' && (value.value as unknown[]).length > this.budget.items) {
      throw new TemplateBudgetExceeded(`built a list of more than ${this.budget.items} items`);
    }
    return value;
  }
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** strftime_now as chat templates use it (Llama 3 dates): %Y %m %d %b %B %H %M %%. */
function strftimeNow(format: string): string {
  const d = new Date();
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  return String(format).replace(/%[YmdbBHM%]/g, (t) =>
    t === '%Y'
      ? String(d.getFullYear())
      : t === '%m'
        ? pad2(d.getMonth() + 1)
        : t === '%d'
          ? pad2(d.getDate())
          : t === '%b'
            ? month('short')
            : t === '%B'
              ? month('long')
              : t === '%H'
                ? pad2(d.getHours())
                : t === '%M'
                  ? pad2(d.getMinutes())
                  : '%',
  );
}

/** Renders `template` with `context` under `budget`; throws TemplateBudgetExceeded when it runs out. */
export function renderWithBudget(
  template: Template,
  context: Record<string, unknown>,
  budget: RenderBudget = DEFAULT_RENDER_BUDGET,
): string {
  const env = newEnvironment();
  const range = (start: number, stop?: number, step = 1): number[] => {
    const [lo, hi] = stop === undefined ? [0, start] : [start, stop];
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((hi - lo) / step));
    if (!Number.isFinite(n) || n > budget.items)
      throw new TemplateBudgetExceeded(`asked for range() of ${hi - lo} items (limit ${budget.items})`);
    return Array.from({ length: n }, (_, i) => lo + i * step);
  };
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range,
    strftime_now: strftimeNow,
  };
  for (const [k, v] of Object.entries({ ...globals, ...context })) env.set(k, v);
  const result = new BudgetedInterpreter(env, budget).run(template.parsed);
  return result.value as string;
}
