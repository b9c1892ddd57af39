// Subtasks from an instruction: a small grammar of verb phrases that covers the simulator's task
// families (pick up X; put X in/on Y; pick, place and lift; move X next to Y) and Bridge's real
// instructions ("put carrot on plate", "flip pot upright which is in sink"), with a fallback that
// keeps the whole instruction as one manipulation subtask.

export type SubtaskKind = 'pick' | 'put' | 'lift' | 'grasp' | 'manipulate';

export interface PlannedSubtask {
  kind: SubtaskKind;
  text: string;
}

export interface ParsedInstruction {
  /** The instruction, lower-cased with spaces collapsed and trailing punctuation removed. */
  normalized: string;
  object: string | null;
  target: string | null;
  subtasks: PlannedSubtask[];
}

const DETERMINERS = /^(the|a|an|this|that|these|those|my|your|its|it|some|one|each|every)\b/;
const PREP: Record<string, string> = {
  in: 'in',
  into: 'in',
  inside: 'in',
  'inside of': 'in',
  on: 'on',
  onto: 'on',
  'on top of': 'on',
  to: 'to',
  'next to': 'next to',
  beside: 'next to',
  near: 'next to',
};
const PREPS = 'into|inside of|inside|in|onto|on top of|on|to|next to|beside|near';
const PUT_VERBS = 'put|place|move|set|drop|transfer|bring|stack|throw';
const PICK_VERBS = 'pick up|pick|grab|grasp|take|lift';

/** Adds "the" to a bare noun phrase ("carrot" → "the carrot"); keeps determiners and pronouns. */
export function withArticle(np: string): string {
  const s = np.trim();
  return DETERMINERS.test(s) ? s : `the ${s}`;
}

export function normalizeInstruction(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.!?;:,]+$/, '')
    .trim();
}

function put(object: string, prep: string, target: string): PlannedSubtask[] {
  const p = PREP[prep] ?? prep;
  const verb = p === 'next to' || p === 'to' ? 'move' : 'put';
  return [
    { kind: 'pick', text: `pick up ${withArticle(object)}` },
    { kind: 'put', text: `${verb} ${withArticle(object)} ${p} ${withArticle(target)}` },
  ];
}

/** Parses an instruction into its planned subtasks. Never fails: unknown phrasing becomes one
 *  'manipulate' subtask (preceded by a grasp when the object can be found). */
export function parseInstruction(instruction: string): ParsedInstruction {
  const s = normalizeInstruction(instruction);
  const result = (object: string | null, target: string | null, subtasks: PlannedSubtask[]): ParsedInstruction => ({
    normalized: s,
    object,
    target,
    subtasks,
  });
  let m: RegExpExecArray | null;

  // pick, place and lift: "pick up X, put it in Y and lift it" / "pick up X and place it on Y, then lift it"
  m = new RegExp(
    `^(?:${PICK_VERBS}) (?:up )?(.+?)(?: up)?(?:,| and|, and)(?: then)? (?:${PUT_VERBS}) (?:it|the .+?|.+?) (${PREPS}) (.+?)(?:,| and|, and)(?: then)? (?:lift|raise) (?:it|the .+?)(?: up)?$`,
  ).exec(s);
  if (m) {
    const [, object, prep, target] = m as unknown as [string, string, string, string];
    return result(object, target, [...put(object, prep, target), { kind: 'lift', text: `lift ${withArticle(object)}` }]);
  }
  // pick and place: "pick up X and put it in Y"
  m = new RegExp(
    `^(?:${PICK_VERBS}) (?:up )?(.+?)(?: up)?(?:,| and|, and)(?: then)? (?:${PUT_VERBS}) (?:it|the .+?|.+?) (${PREPS}) (.+)$`,
  ).exec(s);
  if (m) {
    const [, object, prep, target] = m as unknown as [string, string, string, string];
    return result(object, target, put(object, prep, target));
  }
  // put X [from A] in/on/next to Y
  m = new RegExp(`^(?:${PUT_VERBS}) (.+?)(?: from .+?)? (${PREPS}) (.+)$`).exec(s);
  if (m) {
    const [, object, prep, target] = m as unknown as [string, string, string, string];
    return result(object, target, put(object, prep, target));
  }
  // pick up X / lift X
  m = new RegExp(`^(${PICK_VERBS}) (?:up )?(.+?)(?: up)?$`).exec(s);
  if (m) {
    const [, verb, object] = m as unknown as [string, string, string];
    const subtasks: PlannedSubtask[] = [{ kind: 'pick', text: `pick up ${withArticle(object)}` }];
    if (verb === 'lift') subtasks.push({ kind: 'lift', text: `lift ${withArticle(object)}` });
    return result(object, null, subtasks);
  }
  // Anything else: "<verb> <object> <rest>" → grasp the object, then do the whole thing.
  m =
    /^([a-z]+) (.+?)(?= (?:upright|vertical|horizontal|which|that|from|in|into|on|onto|to|so|and|with|over|off|up|down|left|right|forward|back|open|closed)\b|$)(.*)$/.exec(
      s,
    );
  if (m) {
    const [, verb, object, rest] = m as unknown as [string, string, string, string];
    const phrase = `${verb} ${withArticle(object)}${rest}`;
    return result(object, null, [
      { kind: 'grasp', text: `grasp ${withArticle(object)}` },
      { kind: 'manipulate', text: phrase },
    ]);
  }
  return result(null, null, [{ kind: 'manipulate', text: s || 'do the task' }]);
}
