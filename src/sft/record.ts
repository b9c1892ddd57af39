// One SFT chat record as `vlm2vla build` writes it to train.jsonl / val.jsonl (and to Parquet): the
// images it shows, the user and assistant messages in Hugging Face chat shape, and where it came from.
import type { ExampleStage } from './examples.ts';

export interface ChatRecord {
  images: string[];
  messages: { role: 'user' | 'assistant'; content: ({ type: 'image' } | { type: 'text'; text: string })[] }[];
  meta: { stage: ExampleStage; episodeId: string };
}
