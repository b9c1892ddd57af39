// The shapes of the corpus: a scene (objects placed on the table, the gripper), a question with its
// answer, a conversation, and the kinds of question (the held-out VQA categories among them). Shared by
// the generators of corpus.ts and numbers.ts.
import type { Language } from '../sim/index.ts';

/** Categories of the held-out VQA set (each non-English language is a category of its own; `lists`:
 *  displacements written as lists of numbers, `json`: JSON lists of strings). New categories go at the
 *  end: an item's draw depends on its category's place here. */
export const VQA_CATEGORIES = [
  'colour',
  'identity',
  'category',
  'counting',
  'spatial',
  'knowledge',
  'es',
  'fr',
  'de',
  'zh',
  'lists',
  'json',
] as const;
export type VqaCategory = (typeof VQA_CATEGORIES)[number];
/** Kinds of question that only appear in training conversations (free-form answers). */
export type CorpusKind = VqaCategory | 'position' | 'location' | 'caption' | 'translation' | 'displacement' | 'motion' | 'arithmetic';

export interface Placement {
  id: string;
  x: number;
  y: number;
  yaw: number;
}

export interface Scene {
  placements: Placement[];
  gripper: { x: number; y: number; z: number };
}

export interface QA {
  question: string;
  answer: string;
  kind: CorpusKind;
  language: Language;
  /** The scene's objects the question names, in the order it names them (indices into
   *  `scene.placements`); absent when it names none that is on the table. The pretraining's grounding
   *  attention (`PretrainPreset.groundingAttention`) points the answer at them. */
  refs?: number[];
}

export interface CorpusConversation {
  /** null for text-only conversations. */
  scene: Scene | null;
  qa: QA[];
}
