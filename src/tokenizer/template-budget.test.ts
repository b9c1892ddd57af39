// Every render of a chat template runs under a budget: a template that passes the vetting probe but
// loops or expands on particular content stops with E_CHAT_TEMPLATE_UNSAFE, and normal templates
// render exactly as @huggingface/jinja renders them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { ChatTemplate, GEMMA_STYLE_TEMPLATE } from './index.ts';
import type { ChatMessage } from './index.ts';
import { renderWithBudget, DEFAULT_RENDER_BUDGET } from './template-budget.ts';
import { isVlmError } from '../errors/index.ts';

const unsafe = (e: unknown) => isVlmError(e) && e.code === 'E_CHAT_TEMPLATE_UNSAFE' && e.field === 'chat_template';

test('a template that loops only on some content passes vetting, then stops within its budget', () => {
  const t = ChatTemplate.compile(
    "{% if 'boom' in messages[0]['content'] %}{% for i in range(100000000) %}x{% endfor %}{% endif %}{{ messages[0]['content'] }}",
    {},
  );
  assert.equal(t.render([{ role: 'user', content: 'hello' }]), 'hello');
  const started = performance.now();
  assert.throws(() => t.render([{ role: 'user', content: 'boom' }]), unsafe);
  assert.ok(performance.now() - started < 2000);
});

test('nested loops, doubling strings and growing lists each run out of one budget', () => {
  const cases: [string, RegExp][] = [
    ['{% for i in range(3000) %}{% for j in range(3000) %}{{ j }}{% endfor %}{% endfor %}', /evaluation steps|within|characters/],
    ["{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", /characters/],
    [
      '{% set ns = namespace(a=[]) %}{% for i in range(60000) %}{% set ns.a = ns.a + [i, i] %}{% endfor %}',
      /list of more than|evaluation steps|within/,
    ],
    ['{{ range(500000) | length }}', /range\(\)/],
  ];
  for (const [source, why] of cases) {
    const t = ChatTemplate.compile(`{% if messages[0]['content'] == 'go' %}${source}{% endif %}`, {});
    assert.throws(
      () => t.render([{ role: 'user', content: 'go' }]),
      (e: unknown) => unsafe(e) && why.test((e as Error).message),
      source,
    );
  }
  const tiny = { ...DEFAULT_RENDER_BUDGET, steps: 50 };
  const t = ChatTemplate.compile(GEMMA_STYLE_TEMPLATE, { bos_token: '<bos>' });
  assert.throws(() => t.render([{ role: 'user', content: 'hi' }], { budget: tiny }), unsafe);
});

test('within budget, renders equal the library renderer (globals, loops, raise_exception, strftime_now)', () => {
  const conversations: ChatMessage[][] = [
    [{ role: 'user', content: 'Hello' }],
    [
      { role: 'system', content: 'You control a robot.' },
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: ' Pick up the cup. ' }] },
      { role: 'assistant', content: [{ type: 'text', text: '["pick up the cup"]' }] },
      { role: 'user', content: 'x'.repeat(20_000) },
    ],
  ];
  const sources = [
    GEMMA_STYLE_TEMPLATE,
    "{% for m in messages %}{{ loop.index }}:{{ m['role'] | upper }}{% if m['content'] is string %}{{ m['content'][:5] }}{% endif %}{% endfor %}{{ range(3) | join(',') }}{{ none is none }}{{ True }}",
    "{{ strftime_now('%Y') }}",
  ];
  for (const source of sources) {
    const compiled = new Template(source);
    for (const messages of conversations) {
      const context = { bos_token: '<bos>', messages, add_generation_prompt: true };
      assert.equal(renderWithBudget(compiled, context), compiled.render(context));
    }
  }
  const raising = new Template("{{ raise_exception('no system role') }}");
  assert.throws(() => renderWithBudget(raising, {}), /no system role/);
});
