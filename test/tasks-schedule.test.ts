/**
 * The schedule syntax shared by the host tool, /tasks and `nanoclaw tasks`:
 * what each form means, what is refused and why, and the DST nights, where a
 * daily task must run exactly once at the first valid time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSchedule, nextOccurrence, occurrencesUntil, parseSchedule, tooFrequent, type Schedule } from '../src/tasks/schedule.ts';
import { formatInZone } from '../src/tasks/zone-time.ts';

const ms = (iso: string) => Date.parse(iso);
const NOW = ms('2026-12-02T05:00:00Z');

function parsed(text: string, tz = 'Europe/Berlin', now = NOW): Schedule {
  const s = parseSchedule(text, tz, now);
  assert.ok(!('error' in s), `expected ${text} to parse, got ${JSON.stringify(s)}`);
  return s;
}

function refused(text: string, tz = 'Europe/Berlin', now = NOW): string {
  const s = parseSchedule(text, tz, now);
  assert.ok('error' in s, `expected ${text} to be refused, got ${JSON.stringify(s)}`);
  return s.error;
}

/** Every run from `from` to `to`, by stepping nextOccurrence. */
function runsBetween(s: Schedule, tz: string, from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = nextOccurrence(s, tz, ms(from)); t !== undefined && t <= ms(to); t = nextOccurrence(s, tz, t)) out.push(new Date(t).toISOString());
  return out;
}

describe('schedule syntax', () => {
  it('reads `at` with a date as a wall time in the task\'s zone', () => {
    assert.deepEqual(parsed('at 2026-12-24 18:00'), { kind: 'once', spec: String(ms('2026-12-24T17:00:00Z')) });
    assert.deepEqual(parsed('at 2026-12-24T18:00', 'America/New_York'), { kind: 'once', spec: String(ms('2026-12-24T23:00:00Z')) });
    assert.deepEqual(parsed('AT  2027-07-01 09:30'), { kind: 'once', spec: String(ms('2027-07-01T07:30:00Z')) }, 'summer time, any case and spacing');
  });

  it('reads an ISO instant with an offset as that instant, whatever the zone', () => {
    assert.equal(parsed('at 2026-12-24T17:00:00Z', 'Asia/Tokyo').spec, String(ms('2026-12-24T17:00:00Z')));
    assert.equal(parsed('at 2026-12-24T18:00+01:00', 'UTC').spec, String(ms('2026-12-24T17:00:00Z')));
  });

  it('reads `at 18:00` as the next such wall time: today if still ahead, else tomorrow', () => {
    // 05:00Z is 06:00 in Berlin.
    assert.equal(parsed('at 18:00').spec, String(ms('2026-12-02T17:00:00Z')));
    assert.equal(parsed('at 05:30').spec, String(ms('2026-12-03T04:30:00Z')));
  });

  it('reads `in` relative to now, and `every` as seconds', () => {
    assert.deepEqual(parsed('in 20m'), { kind: 'once', spec: String(NOW + 20 * 60_000) });
    assert.deepEqual(parsed('in 2h'), { kind: 'once', spec: String(NOW + 2 * 3_600_000) });
    assert.deepEqual(parsed('in 1d'), { kind: 'once', spec: String(NOW + 86_400_000) });
    assert.deepEqual(parsed('every 30m'), { kind: 'every', spec: '1800' });
    assert.deepEqual(parsed('every 2 hours'), { kind: 'every', spec: '7200' });
    assert.deepEqual(parsed('every 1d'), { kind: 'every', spec: '86400' });
    assert.deepEqual(parsed('every 90s'), { kind: 'every', spec: '90' });
  });

  it('keeps a five-field cron expression as given', () => {
    assert.deepEqual(parsed('cron 0 7 * * *'), { kind: 'cron', spec: '0 7 * * *' });
    assert.deepEqual(parsed('cron  30   6 * * 1-5'), { kind: 'cron', spec: '30 6 * * 1-5' });
  });

  it('refuses what is not a schedule, with the forms that are', () => {
    assert.match(refused('tomorrow morning'), /use `every 30m`, `cron 0 7 \* \* \*`, `at 2026-12-24 18:00` or `in 20m`/);
    assert.match(refused(''), /no schedule given/);
    assert.match(refused('every fortnight'), /not an interval like `every 30m`/);
    assert.match(refused('in a while'), /not a delay/);
    assert.match(refused('at noon'), /not a time/);
    assert.match(refused('at 2026-02-30 10:00'), /not a valid date/);
    assert.match(refused('at 2026-12-01 10:00'), /in the past/);
    assert.match(refused('every 400d'), /longer than a year/);
    assert.match(refused('x'.repeat(300)), /at most 200 characters/);
  });

  it('refuses cron with seconds or years, invalid fields, and expressions that never fire', () => {
    assert.match(refused('cron 0 0 7 * * *'), /has 6 fields; a cron expression here has exactly five/);
    assert.match(refused('cron 0 0 7 * * * 2027'), /has 7 fields/);
    assert.match(refused('cron 61 7 * * *'), /not a valid cron expression/);
    assert.match(refused('cron 0 0 30 2 *'), /never fires/);
  });

  it('says when the next run is: strictly after the given time', () => {
    const daily = parsed('cron 0 7 * * *');
    assert.equal(nextOccurrence(daily, 'Europe/Berlin', ms('2026-12-02T06:00:00Z')), ms('2026-12-03T06:00:00Z'), 'not the run at exactly that time');
    assert.equal(nextOccurrence(daily, 'Europe/Berlin', ms('2026-12-02T05:59:59Z')), ms('2026-12-02T06:00:00Z'));
    assert.equal(nextOccurrence({ kind: 'every', spec: '1800' }, 'UTC', NOW), NOW + 1_800_000);
    const once = parsed('in 20m');
    assert.equal(nextOccurrence(once, 'UTC', NOW), NOW + 1_200_000);
    assert.equal(nextOccurrence(once, 'UTC', NOW + 1_200_000), undefined, 'a one-off has no run after its own');
  });

  it('counts the occurrences between two times and finds the latest', () => {
    const hourly = parsed('cron 0 * * * *', 'UTC');
    assert.deepEqual(occurrencesUntil(hourly, 'UTC', ms('2026-12-02T01:00:00Z'), ms('2026-12-02T04:30:00Z')), { count: 4, last: ms('2026-12-02T04:00:00Z'), capped: false });
    const every = { kind: 'every', spec: '600' } as Schedule;
    assert.deepEqual(occurrencesUntil(every, 'UTC', NOW, NOW + 3_599_000), { count: 6, last: NOW + 3_000_000, capped: false });
    const capped = occurrencesUntil(hourly, 'UTC', ms('2026-12-02T01:00:00Z'), ms('2026-12-09T01:30:00Z'), 100);
    assert.equal(capped.capped, true);
    assert.equal(capped.last, ms('2026-12-09T01:00:00Z'), 'the latest is exact even when counting stopped');
  });

  it('puts schedules into words, with the zone a wall time is read in', () => {
    const d = (text: string, tz = 'Europe/Berlin') => describeSchedule(parsed(text, tz), tz);
    assert.equal(d('cron 0 7 * * *'), 'every day at 07:00 (Europe/Berlin)');
    assert.equal(d('cron 30 6 * * 1-5'), 'every weekday (Monday to Friday) at 06:30 (Europe/Berlin)');
    assert.equal(d('cron 0 9 * * 1'), 'every Monday at 09:00 (Europe/Berlin)');
    assert.equal(d('cron 0 8 1 * *'), 'on day 1 of every month at 08:00 (Europe/Berlin)');
    assert.equal(d('cron 15 * * * *'), 'every hour at minute 15 (Europe/Berlin)');
    assert.equal(d('cron */15 * * * *'), 'every 15 minutes');
    assert.equal(d('cron 0 7 1 1,7 *'), 'cron 0 7 1 1,7 * (Europe/Berlin)');
    assert.equal(d('every 1d'), 'every day');
    assert.equal(d('every 30m'), 'every 30 minutes');
    assert.equal(d('every 90m'), 'every 90 minutes');
    assert.equal(d('at 2026-12-24 18:00'), 'once, at 2026-12-24 18:00 CET');
    assert.equal(formatInZone(ms('2027-07-01T12:00:00Z'), 'America/New_York'), '2027-07-01 08:00 EDT');
    assert.equal(formatInZone(ms('2027-07-01T12:00:00Z'), 'Asia/Kolkata'), '2027-07-01 17:30 GMT+5:30');
  });

  it('refuses recurring schedules more frequent than the minimum gap', () => {
    assert.match(tooFrequent(parsed('every 1m'), 'UTC', 300, NOW)!, /more often than this gateway allows \(at most once every 5 minutes/);
    assert.equal(tooFrequent(parsed('every 5m'), 'UTC', 300, NOW), undefined);
    assert.match(tooFrequent(parsed('cron * * * * *'), 'UTC', 300, NOW)!, /more often/);
    assert.match(tooFrequent(parsed('cron 0,2 7 * * *'), 'UTC', 300, NOW)!, /more often/, 'two minutes apart once a day is still too close');
    assert.equal(tooFrequent(parsed('cron */5 * * * *'), 'UTC', 300, NOW), undefined);
    assert.equal(tooFrequent(parsed('in 1m'), 'UTC', 300, NOW), undefined, 'a one-off has no gap');
  });

  describe('DST nights: a daily task runs exactly once, at the first valid time', () => {
    const cases: Array<[string, string, string, string, string[]]> = [
      // zone, expression, night, what the day's run is (UTC), and the day around it
      ['Europe/Berlin', '30 2 * * *', 'spring forward 2027-03-28: 02:30 does not exist, runs at 03:00 CEST', '2027-03-27T12:00:00Z',
        ['2027-03-28T01:00:00Z', '2027-03-29T00:30:00Z']],
      ['Europe/Berlin', '30 2 * * *', 'fall back 2027-10-31: 02:30 twice, runs at the first (CEST)', '2027-10-30T12:00:00Z',
        ['2027-10-31T00:30:00Z', '2027-11-01T01:30:00Z']],
      ['Europe/Berlin', '30 1 * * *', 'spring forward 2027-03-28: 01:30 is untouched', '2027-03-27T12:00:00Z',
        ['2027-03-28T00:30:00Z', '2027-03-28T23:30:00Z']],
      ['Europe/Berlin', '30 1 * * *', 'fall back 2027-10-31: 01:30 is untouched', '2027-10-30T12:00:00Z',
        ['2027-10-30T23:30:00Z', '2027-11-01T00:30:00Z']],
      ['America/New_York', '30 2 * * *', 'spring forward 2027-03-14: 02:30 does not exist, runs at 03:00 EDT', '2027-03-13T12:00:00Z',
        ['2027-03-14T07:00:00Z', '2027-03-15T06:30:00Z']],
      ['America/New_York', '30 2 * * *', 'fall back 2027-11-07: 02:30 is once, EST', '2027-11-06T12:00:00Z',
        ['2027-11-07T07:30:00Z', '2027-11-08T07:30:00Z']],
      ['America/New_York', '30 1 * * *', 'spring forward 2027-03-14: 01:30 EST is untouched', '2027-03-13T12:00:00Z',
        ['2027-03-14T06:30:00Z', '2027-03-15T05:30:00Z']],
      ['America/New_York', '30 1 * * *', 'fall back 2027-11-07: 01:30 twice, runs at the first (EDT)', '2027-11-06T12:00:00Z',
        ['2027-11-07T05:30:00Z', '2027-11-08T06:30:00Z']],
    ];
    for (const [tz, expr, night, from, expected] of cases) {
      it(`${tz} \`${expr}\`, ${night}`, () => {
        const to = new Date(ms(from) + 2 * 86_400_000 - 1).toISOString();
        assert.deepEqual(runsBetween({ kind: 'cron', spec: expr }, tz, from, to), expected.map((e) => new Date(e).toISOString()));
      });
    }

    it('a restart inside the repeated hour, after that day\'s run, does not run it again that day', () => {
      // 06:10Z is 01:10 EST, after the 01:30 EDT run (05:30Z).
      assert.equal(nextOccurrence({ kind: 'cron', spec: '30 1 * * *' }, 'America/New_York', ms('2027-11-07T06:10:00Z')), ms('2027-11-08T06:30:00Z'));
    });

    it('`at` a wall time in the spring-forward gap means the first valid time after it', () => {
      assert.equal(parsed('at 2027-03-28 02:30', 'Europe/Berlin').spec, String(ms('2027-03-28T01:00:00Z')));
    });

    it('an interval keeps its real-time length across both nights', () => {
      const day = { kind: 'every', spec: '86400' } as Schedule;
      for (const [tz, start] of [['Europe/Berlin', '2027-03-27T06:00:00Z'], ['Europe/Berlin', '2027-10-30T06:00:00Z'], ['America/New_York', '2027-11-06T12:00:00Z']]) {
        const runs = runsBetween(day, tz, start, new Date(ms(start) + 3 * 86_400_000).toISOString()).map(ms);
        assert.deepEqual(runs.map((t, i) => t - (i ? runs[i - 1] : ms(start))), [86_400_000, 86_400_000, 86_400_000]);
      }
    });
  });
});
