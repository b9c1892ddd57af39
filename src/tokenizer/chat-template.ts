// Chat templates: Jinja programs from `tokenizer_config.json`, vetted in a child process once at load
// time (they are code from untrusted files), then rendered in-process with @huggingface/jinja under a
// step, time and output budget on every render (template-budget.ts).
import { Template } from '@huggingface/jinja';
import { ConfigError, FormatError } from '../errors/index.ts';
import { runVetJob } from './vet.ts';
import { DEFAULT_RENDER_BUDGET, TemplateBudgetExceeded, renderWithBudget } from './template-budget.ts';
import type { RenderBudget } from './template-budget.ts';

export type ChatContentPart = { type: 'text'; text: string } | { type: 'image' };
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatContentPart[];
}

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  /** Extra template variables. */
  extra?: Record<string, unknown>;
  /** Limits for this render (default DEFAULT_RENDER_BUDGET). */
  budget?: RenderBudget;
}

/** Longest template source accepted. */
const MAX_TEMPLATE_CHARS = 256 * 1024;
/** A probe render longer than this means the template expands without bound. */
const MAX_PROBE_OUTPUT_CHARS = 1024 * 1024;

/** The conversations every template must render during vetting. */
const PROBES: ChatMessage[][] = [
  [{ role: 'user', content: 'Hello' }],
  [
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is on the table?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'A red apple.' }] },
    { role: 'user', content: 'And left of it?' },
  ],
  [
    { role: 'system', content: 'You control a robot arm.' },
    { role: 'user', content: 'x'.repeat(4000) },
  ],
];

/** Our own template in the Gemma 3 turn format, used by the embedded model (DESIGN.md §4). */
export const GEMMA_STYLE_TEMPLATE = [
  '{{ bos_token }}',
  "{%- set ns = namespace(prefix='') -%}",
  "{%- if messages[0]['role'] == 'system' -%}",
  "{%- if messages[0]['content'] is string -%}{%- set ns.prefix = messages[0]['content'] + '\\n\\n' -%}",
  "{%- else -%}{%- set ns.prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}{%- endif -%}",
  '{%- set turns = messages[1:] -%}',
  '{%- else -%}{%- set turns = messages -%}{%- endif -%}',
  '{%- for m in turns -%}',
  "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{ raise_exception('roles must alternate user/assistant') }}{%- endif -%}",
  "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' }}",
  '{%- if loop.first -%}{{ ns.prefix }}{%- endif -%}',
  "{%- if m['content'] is string -%}{{ m['content'] | trim }}",
  "{%- else -%}{%- for part in m['content'] -%}",
  "{%- if part['type'] == 'image' -%}{{ '<start_of_image>' }}{%- elif part['type'] == 'text' -%}{{ part['text'] | trim }}{%- endif -%}",
  '{%- endfor -%}{%- endif -%}',
  "{{ '<end_of_turn>\\n' }}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}",
].join('');

export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;
  readonly #specials: Record<string, string>;

  private constructor(source: string, template: Template, specials: Record<string, string>) {
    this.source = source;
    this.#template = template;
    this.#specials = specials;
  }

  /** Vets and compiles `text`. `specials` are variables such as bos_token that the template reads. */
  static compile(text: string, specials: Record<string, string>, file = '<template>'): ChatTemplate {
    if (text.length > MAX_TEMPLATE_CHARS) {
      throw new FormatError('E_CHAT_TEMPLATE', `chat template is ${text.length} characters, more than ${MAX_TEMPLATE_CHARS}`, {
        file,
        field: 'chat_template',
        fix: 'this is not a normal chat template; use the one from the model repository',
      });
    }
    let template: Template;
    try {
      template = new Template(text);
    } catch (cause) {
      throw new FormatError('E_CHAT_TEMPLATE', `chat template does not parse: ${(cause as Error).message}`, {
        file,
        field: 'chat_template',
        fix: 'fix the Jinja syntax in tokenizer_config.json',
        cause,
      });
    }
    const probes = PROBES.map((messages) => ({ ...specials, messages, add_generation_prompt: true }));
    const { result, why } = runVetJob({ kind: 'template', template: text, probes });
    if (!result) {
      throw new FormatError('E_CHAT_TEMPLATE_UNSAFE', `chat template ${why} while rendering a probe conversation`, {
        file,
        field: 'chat_template',
        fix: 'refusing to run this template; replace chat_template with a trusted one',
      });
    }
    // A template that raises on a probe (e.g. "system role not supported") is still usable; one that
    // explodes in size is not.
    for (const output of result.outputs ?? []) {
      if (output.length > MAX_PROBE_OUTPUT_CHARS) {
        throw new FormatError('E_CHAT_TEMPLATE_UNSAFE', `chat template produced ${output.length} characters for a short probe`, {
          file,
          field: 'chat_template',
          fix: 'refusing to run this template; replace chat_template with a trusted one',
        });
      }
    }
    return new ChatTemplate(file, template, specials);
  }

  /** Builds the template of a `tokenizer_config.json`, or null if it has none. */
  static fromConfig(config: Record<string, unknown>, file: string): ChatTemplate | null {
    let text = config.chat_template;
    if (Array.isArray(text)) {
      const named = (text as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default');
      text = named?.template;
    }
    if (text === undefined || text === null) return null;
    if (typeof text !== 'string') {
      throw new FormatError('E_CHAT_TEMPLATE', 'chat_template must be a string (or a list of {name, template})', {
        file,
        field: 'chat_template',
        fix: 'restore tokenizer_config.json from the model repository',
      });
    }
    const specials: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'boi_token', 'eoi_token', 'image_token']) {
      const v = config[key];
      const s = typeof v === 'string' ? v : (v as { content?: unknown } | undefined)?.content;
      if (typeof s === 'string') specials[key] = s;
    }
    return ChatTemplate.compile(text, specials, file);
  }

  /** Renders a conversation to the prompt string under a budget. Errors the template raises become
   *  ConfigErrors (E_CHAT_TEMPLATE_RENDER); a budget that runs out is E_CHAT_TEMPLATE_UNSAFE. */
  render(messages: ChatMessage[], { addGenerationPrompt = false, extra = {}, budget = DEFAULT_RENDER_BUDGET }: RenderOptions = {}): string {
    try {
      return renderWithBudget(
        this.#template,
        { ...this.#specials, ...extra, messages, add_generation_prompt: addGenerationPrompt },
        budget,
      );
    } catch (cause) {
      if (cause instanceof TemplateBudgetExceeded) {
        throw new FormatError('E_CHAT_TEMPLATE_UNSAFE', `chat template ${cause.message} while rendering this conversation; stopped`, {
          file: this.source,
          field: 'chat_template',
          fix: 'the template loops or expands on this content; replace chat_template with a trusted one',
          cause,
        });
      }
      throw new ConfigError('E_CHAT_TEMPLATE_RENDER', `chat template refused the conversation: ${(cause as Error).message}`, {
        file: this.source,
        field: 'messages',
        fix: 'check the roles (most templates need user/assistant alternation) and the content parts',
        cause,
      });
    }
  }
}

export interface ImageTokenSpec {
  boi: string;
  eoi: string;
  imageToken: string;
  tokensPerImage: number;
}

/** Expands every begin-of-image marker into the full image sequence the model expects, as the
 *  Gemma 3 processor does: `\n\n<boi>` + tokensPerImage × `<image>` + `<eoi>\n\n`. */
export function expandImageTokens(text: string, spec: ImageTokenSpec): string {
  const full = `\n\n${spec.boi}${spec.imageToken.repeat(spec.tokensPerImage)}${spec.eoi}\n\n`;
  return text.split(spec.boi).join(full);
}
