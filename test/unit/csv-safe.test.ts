import { describe, expect, it } from 'vitest';
import { safeCell, safeHash, toSafeCsv } from '../../src/reports/csv-safe.ts';
import { detailsText, slackToText } from '../../src/reports/human-text.ts';

describe('Excel-safe CSV', () => {
  it('puts a quote before text a spreadsheet would run as a formula, and nothing else', () => {
    for (const danger of ['=1+2', '+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(safeCell(danger)).toBe(`'${danger}`);
    for (const fine of ['', 'a=b', ' =x', 'U0ALICE', "'quoted"]) expect(safeCell(fine)).toBe(fine);
  });

  it('keeps a hash a spreadsheet would read as a number whole', () => {
    expect(safeHash('0'.repeat(64))).toBe(`'${'0'.repeat(64)}`);
    expect(safeHash('12e45')).toBe("'12e45");
    expect(safeHash('ab12')).toBe('ab12');
  });

  it('writes null as an empty field and "" quoted, numbers and booleans as they are, with a BOM unless told not to', () => {
    const rows = [{ a: null, b: '', c: -5, d: true, e: '=x' }];
    expect(toSafeCsv(['a', 'b', 'c', 'd', 'e'], rows)).toBe('\uFEFFa,b,c,d,e\n,"",-5,true,\'=x\n');
    expect(toSafeCsv(['a'], [], { bom: false })).toBe('a\n');
  });
});

describe('human text for files', () => {
  it('turns Slack markup into plain text', () => {
    expect(slackToText(':rotating_light: <@U0SRE> self-granted `prod` until <!date^1772456400^{date_short} {time}|2026-03-02T13:00:00Z> &amp; <!here> see <https://x.test/a|the runbook> in <#C01|sec>')).toBe(
      '@U0SRE self-granted `prod` until 2026-03-02T13:00:00Z & @here see the runbook (https://x.test/a) in #sec',
    );
    expect(slackToText('a &lt;b&gt; at 10:00:00')).toBe('a <b> at 10:00:00');
  });

  it('writes details as sorted key: value pairs', () => {
    expect(detailsText({ z: null, a: [1, 'x'], m: { k: true } })).toBe('a: [1, x]; m: {k: true}; z: none');
  });
});
