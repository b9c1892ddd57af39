// Scoring answers to the held-out VQA set (DESIGN.md §4): exact match after normalisation per
// category (list answers strictly as lists, answers.ts; with the share of well-formed lists), the
// retention ratio per category against a baseline (accuracy / baseline accuracy, the paper's measure
// of forgetting), and the Markdown table of a report. Asking a model the questions is eval/vqa.ts.
import { VQA_CATEGORIES } from './conversation.ts';
import type { VqaItem } from './corpus.ts';
import type { VqaCategory } from './conversation.ts';
import { answerMatches, listWellFormed } from './answers.ts';

/** The held-out set's default seed and size: 100 questions per category. */
export const VQA_EVAL_SEED = 2026;
export const VQA_EVAL_PER_CATEGORY = 100;

export interface VqaPrediction {
  category: VqaCategory;
  question: string;
  answer: string;
  prediction: string;
  correct: boolean;
}

export interface CategoryScore {
  correct: number;
  /** 0 when the category was not asked (`VqaOptions.categories`). */
  total: number;
  accuracy: number;
  /** For categories whose answers are lists: how many predictions were well-formed lists of the
   *  answer's shape, right or wrong. */
  wellFormed?: number;
}

export interface VqaReport {
  seed: number;
  perCategory: number;
  categories: Record<VqaCategory, CategoryScore>;
  /** Mean over all questions (every category has the same number). */
  overall: number;
  predictions: VqaPrediction[];
  seconds: number;
}

/** Scores predictions (one per item, in order; a missing one counts as empty) per category and overall. */
export function scoreVqa(
  items: readonly VqaItem[],
  predictions: readonly string[],
): { categories: Record<VqaCategory, CategoryScore>; overall: number; predictions: VqaPrediction[] } {
  const categories = Object.fromEntries(VQA_CATEGORIES.map((c) => [c, { correct: 0, total: 0, accuracy: 0 }])) as Record<
    VqaCategory,
    CategoryScore
  >;
  const out: VqaPrediction[] = items.map((item, i) => {
    const prediction = predictions[i] ?? '';
    const correct = answerMatches(prediction, item.answer);
    const s = categories[item.category];
    s.total++;
    if (correct) s.correct++;
    const formed = listWellFormed(prediction, item.answer);
    if (formed !== null) s.wellFormed = (s.wellFormed ?? 0) + (formed ? 1 : 0);
    return { category: item.category, question: item.question, answer: item.answer, prediction, correct };
  });
  let correct = 0;
  for (const s of Object.values(categories)) {
    s.accuracy = s.total > 0 ? s.correct / s.total : 0;
    correct += s.correct;
  }
  return { categories, overall: items.length > 0 ? correct / items.length : 0, predictions: out };
}

/** Accuracy / baseline accuracy per category and overall (null where the baseline scored 0 or did not
 *  ask the category, e.g. a report from before the category existed). */
export function retention(run: VqaReport, baseline: VqaReport): Record<VqaCategory | 'overall', number | null> {
  const out = {} as Record<VqaCategory | 'overall', number | null>;
  for (const c of VQA_CATEGORIES) {
    const b = baseline.categories[c]?.accuracy ?? 0;
    out[c] = b > 0 ? run.categories[c].accuracy / b : null;
  }
  out.overall = baseline.overall > 0 ? run.overall / baseline.overall : null;
  return out;
}

/** A Markdown table of a report (and the retention against a baseline). */
export function vqaTable(run: VqaReport, baseline?: VqaReport): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const ret = baseline ? retention(run, baseline) : null;
  const head = baseline
    ? '| category | questions | accuracy | baseline | retention |\n|---|---:|---:|---:|---:|'
    : '| category | questions | accuracy |\n|---|---:|---:|';
  const asked = VQA_CATEGORIES.filter((c) => run.categories[c].total > 0);
  const rows = asked.map((c) => {
    const s = run.categories[c];
    const cells = [c, String(s.total), pct(s.accuracy)];
    if (baseline)
      cells.push(baseline.categories[c] ? pct(baseline.categories[c].accuracy) : 'n/a', ret![c] === null ? 'n/a' : ret![c]!.toFixed(3));
    return `| ${cells.join(' | ')} |`;
  });
  const total = asked.reduce((a, c) => a + run.categories[c].total, 0);
  const all = ['**overall**', String(total), `**${pct(run.overall)}**`];
  if (baseline) all.push(pct(baseline.overall), ret!.overall === null ? 'n/a' : ret!.overall.toFixed(3));
  const formed = asked
    .filter((c) => run.categories[c].wellFormed !== undefined)
    .map((c) => `${c} ${run.categories[c].wellFormed}/${run.categories[c].total}`);
  const table = [head, ...rows, `| ${all.join(' | ')} |`].join('\n');
  return formed.length > 0 ? `${table}\n\nWell-formed lists of the answer's shape (right or wrong): ${formed.join(', ')}.` : table;
}
