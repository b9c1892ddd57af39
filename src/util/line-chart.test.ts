// Tests of the SVG line chart: well-formed output, escaped text, ticks, gaps for non-finite values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineChart, niceTicks } from './line-chart.ts';

test('nice ticks are round and cover the range', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97), [20, 40, 60, 80]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});

test('a loss chart is deterministic SVG with escaped labels and a gap at NaN', () => {
  const series = [
    {
      name: 'train <loss>',
      points: [
        [0, 4],
        [1, 2],
        [2, Number.NaN],
        [3, 1],
      ] as [number, number][],
    },
    {
      name: 'val',
      points: [
        [0, 4.5],
        [3, 1.5],
      ] as [number, number][],
    },
  ];
  const svg = lineChart(series, { title: 'Loss & co', xLabel: 'step', yLabel: 'loss', logY: true });
  assert.equal(svg, lineChart(series, { title: 'Loss & co', xLabel: 'step', yLabel: 'loss', logY: true }));
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /train &lt;loss&gt;/);
  assert.match(svg, /Loss &amp; co/);
  assert.ok(!svg.includes('NaN'));
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(paths.length, 2);
  assert.equal((paths[0]!.match(/M/g) ?? []).length, 2, 'the NaN point splits the first line in two');
  assert.equal(svg.split('<svg').length, 2);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('the legend can sit right of the plot, clear of the lines', () => {
  const series = [
    {
      name: 'vlm2vla',
      points: [
        [0, 1],
        [10, 2],
      ] as [number, number][],
    },
  ];
  const inside = lineChart(series, { title: 't', xLabel: 'x', yLabel: 'y' });
  const outside = lineChart(series, { title: 't', xLabel: 'x', yLabel: 'y', legendOutside: true });
  const plotRight = (svg: string) => {
    const m = /<rect x="70" y="40" width="([\d.]+)"/.exec(svg)!;
    return 70 + Number(m[1]);
  };
  const legendX = (svg: string) => Number(/<text x="([\d.]+)"[^>]*>vlm2vla</.exec(svg)![1]);
  assert.ok(legendX(inside) < plotRight(inside), 'by default the legend is inside the plot');
  assert.ok(legendX(outside) > plotRight(outside), 'legendOutside puts it right of the plot');
  const maxX = Math.max(...[...outside.matchAll(/[ML]([\d.]+) /g)].map((m) => Number(m[1])));
  assert.ok(maxX <= plotRight(outside) + 0.1, 'the lines stay inside the plot');
});
