// The image placeholder tokens of a Gemma 3 model's prompts (`<start_of_image>`, the soft image token
// repeated mm_tokens_per_image times, `<end_of_image>`), named by the model's tokenizer, for
// `expandImageTokens` at training and at inference.
import { UsageError } from '../../errors/index.ts';
import type { ImageTokenSpec, Tokenizer } from '../../tokenizer/index.ts';
import type { AnyGemma3Config } from './config.ts';

/** The model's image placeholder tokens for expandImageTokens, or null for a text-only model. */
export function imageSpec(enc: { tokenizer: Tokenizer; cfg: AnyGemma3Config }): ImageTokenSpec | null {
  if (enc.cfg.modelType !== 'gemma3') return null;
  const t = enc.tokenizer;
  const name = (id: number, what: string) => {
    const s = t.idToToken(id);
    if (!s) throw new UsageError(`the tokenizer has no token for ${what} id ${id}`, 'use the tokenizer saved with the model');
    return s;
  };
  return {
    boi: name(enc.cfg.boiTokenIndex, 'boi_token_index'),
    eoi: name(enc.cfg.eoiTokenIndex, 'eoi_token_index'),
    imageToken: name(enc.cfg.imageTokenIndex, 'image_token_index'),
    tokensPerImage: enc.cfg.mmTokensPerImage,
  };
}
