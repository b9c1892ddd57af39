// Tokenizers: Hugging Face tokenizer.json loading, vetted chat templates, image tokens, BPE training.
export { Tokenizer, readJsonFile, validateTokenizerJson, MAX_TOKENIZER_JSON_BYTES, MAX_ENCODE_CHARS } from './tokenizer.ts';
export type { TokenizerFiles } from './tokenizer.ts';
export { ChatTemplate, GEMMA_STYLE_TEMPLATE, expandImageTokens } from './chat-template.ts';
export type { ChatMessage, ChatContentPart, RenderOptions, ImageTokenSpec } from './chat-template.ts';
export { trainBpe, pretokenize, DEFAULT_SPECIAL_TOKENS, SPACE } from './bpe-trainer.ts';
export type { BpeTrainOptions, TrainedTokenizer } from './bpe-trainer.ts';
export { vetRegexes, collectRegexes } from './vet.ts';
