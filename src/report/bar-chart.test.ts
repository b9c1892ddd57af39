// Tests of the SVG grouped bar chart: one bar per finite value with heights proportional to the data,
// whiskers and reference lines where given, escaped labels, and empty or NaN inputs drawn without NaN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart } from './bar-chart.ts';

interface Bar {
  series: string;
  category: string;
  value: number;
  y: number;
  height: number;
}

function bars(svg: string): Bar[] {
  return [
    ...svg.matchAll(
      /<rect class="bar" data-series="([^"]*)" data-category="([^"]*)" data-value="([^"]*)" x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)"/g,
    ),
  ].map((m) => ({
    series: m[1]!,
    category: m[2]!,
    value: Number(m[3]),
    y: Number(m[4]),
    height: Number(m[5]),
  }));
}

test('grouped bars: one per series and category, heights proportional to the values, bottoms aligned', () => {
  const svg = barChart(
    ['colour', 'count', 'spatial'],
    [
      { name: 'vlm2vla', values: [0.9, 0.45, 0.3] },
      { name: 'openvla-style', values: [0.6, 0.15, 0.05] },
    ],
    {
      title: 'VQA retention',
      yLabel: 'retention',
      percent: true,
      yMax: 1,
      references: [
        { value: 0.9, label: '90%' },
        { value: 0.85, label: '85% (paper)' },
      ],
    },
  );
  const b = bars(svg);
  assert.equal(b.length, 6);
  assert.deepEqual(
    b.map((x) => `${x.series}/${x.category}`),
    ['vlm2vla/colour', 'openvla-style/colour', 'vlm2vla/count', 'openvla-style/count', 'vlm2vla/spatial', 'openvla-style/spatial'],
  );
  const perUnit = b[0]!.height / 0.9;
  for (const x of b)
    assert.ok(Math.abs(x.height - x.value * perUnit) < 0.2, `${x.series}/${x.category}: height ${x.height} for ${x.value}`);
  const bottoms = new Set(b.map((x) => (x.y + x.height).toFixed(0)));
  assert.equal(bottoms.size, 1, 'every bar starts at the zero line');
  const refs = [...svg.matchAll(/<line class="reference" data-value="([^"]*)"[^>]*y1="([^"]*)"/g)];
  assert.deepEqual(
    refs.map((r) => Number(r[1])),
    [0.9, 0.85],
  );
  // The 90% line sits level with the top of a 0.9 bar.
  assert.ok(Math.abs(Number(refs[0]![2]) - b[0]!.y) < 0.2);
  assert.match(svg, />100%</, 'the axis reaches yMax and is labelled in percent');
  assert.equal(
    svg,
    barChart(
      ['colour', 'count', 'spatial'],
      [
        { name: 'vlm2vla', values: [0.9, 0.45, 0.3] },
        { name: 'openvla-style', values: [0.6, 0.15, 0.05] },
      ],
      {
        title: 'VQA retention',
        yLabel: 'retention',
        percent: true,
        yMax: 1,
        references: [
          { value: 0.9, label: '90%' },
          { value: 0.85, label: '85% (paper)' },
        ],
      },
    ),
    'deterministic',
  );
});

test('interval whiskers span the given low and high values', () => {
  const svg = barChart(
    ['in-distribution', 'multilingual'],
    [
      {
        name: 'expert',
        values: [1, 0.5],
        intervals: [
          [0.6, 1],
          [0.2, 0.8],
        ],
      },
    ],
    { title: 'success', yLabel: 'success', percent: true, yMax: 1 },
  );
  const b = bars(svg);
  const whiskers = [...svg.matchAll(/<path class="whisker" data-low="([^"]*)" data-high="([^"]*)" d="M[\d.]+ ([\d.]+)V([\d.]+)/g)];
  assert.equal(whiskers.length, 2);
  const perUnit = b[0]!.height / 1;
  const zero = b[0]!.y + b[0]!.height;
  const [lo, hi] = [Number(whiskers[1]![3]), Number(whiskers[1]![4])];
  assert.ok(Math.abs(zero - lo - 0.2 * perUnit) < 0.2 && Math.abs(zero - hi - 0.8 * perUnit) < 0.2, `whisker ${lo}–${hi}`);
});

test('labels are escaped; NaN, null and missing values draw no bar and no NaN', () => {
  const svg = barChart(
    ['<b>&"x"'],
    [
      { name: "a'<script>", values: [Number.NaN] },
      { name: 'b', values: [null] },
      { name: 'c', values: [] },
    ],
    { title: 'T <&>', yLabel: 'y' },
  );
  assert.equal(bars(svg).length, 0);
  assert.equal((svg.match(/class="na"/g) ?? []).length, 3);
  assert.ok(!svg.includes('NaN') && !svg.includes('<script>') && !svg.includes('<b>'));
  assert.match(svg, /&lt;b&gt;&amp;&quot;x&quot;/);
  assert.match(svg, /a&#39;&lt;script&gt;/);
  const empty = barChart([], [], { title: 'nothing', yLabel: 'y' });
  assert.ok(empty.startsWith('<svg') && empty.trimEnd().endsWith('</svg>') && !empty.includes('NaN') && !empty.includes('Infinity'));
});

test('negative values grow down from the zero line', () => {
  const b = bars(
    barChart(
      ['x'],
      [
        { name: 's', values: [-0.5] },
        { name: 't', values: [0.5] },
      ],
      { title: 't', yLabel: 'y' },
    ),
  );
  assert.equal(b.length, 2);
  assert.ok(Math.abs(b[0]!.height - b[1]!.height) < 0.2);
  assert.ok(Math.abs(b[0]!.y - (b[1]!.y + b[1]!.height)) < 0.2, 'the negative bar starts where the positive one ends');
});
