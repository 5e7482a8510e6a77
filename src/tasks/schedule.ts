import { Cron } from 'croner';
import { formatInZone } from './zone-time.ts';

/**
 * One schedule syntax for the agent's host tool, the `/tasks` chat command
 * and `nanoclaw tasks`, so a schedule that works in one works in all:
 *
 *   at 2026-12-24 18:00 | at 18:00 | at 2026-12-24T17:00:00Z | in 20m   → once
 *   every 30m | every 2h | every 1d                                     → every
 *   cron 0 7 * * *                                                      → cron
 *
 * Wall times are read in the task's IANA zone. Cron follows croner's DST
 * rules (Vixie cron's): a fixed time that falls in a spring-forward gap runs
 * at the first valid time after it, one that occurs twice in a fall-back
 * night runs once, at the first. An interval is real time: `every 1d` is
 * 24 hours, whatever the clocks do.
 */
export type ScheduleKind = 'once' | 'cron' | 'every';

/** As stored in `tasks`: once → the UTC instant in ms; every → seconds; cron → the expression. */
export interface Schedule {
  kind: ScheduleKind;
  spec: string;
}

const HELP = 'use `every 30m`, `cron 0 7 * * *`, `at 2026-12-24 18:00` or `in 20m`';
const MAX_TEXT = 200;
/** Longest interval and furthest one-off: a year, and ten. Beyond that a schedule is a typo. */
const MAX_EVERY_SEC = 366 * 86400;
const MAX_AHEAD_MS = 10 * 366 * 86400_000;

const UNITS: Array<[RegExp, number]> = [
  [/^(s|secs?|seconds?)$/, 1], [/^(m|mins?|minutes?)$/, 60], [/^(h|hrs?|hours?)$/, 3600],
  [/^(d|days?)$/, 86400], [/^(w|weeks?)$/, 7 * 86400],
];

/** `20m`, `2 h`, `1 day` → seconds, or undefined. */
function durationSec(text: string): number | undefined {
  const m = /^(\d{1,7})\s*([a-z]+)$/i.exec(text);
  const unit = m && UNITS.find(([re]) => re.test(m[2].toLowerCase()));
  return m && unit ? Number(m[1]) * unit[1] : undefined;
}

const crons = new Map<string, Cron>();

/** A paused croner job used only to compute times (it never starts a timer); cached, as parsing is not free. */
function cronOf(expr: string, tz: string): Cron {
  const key = `${tz}\0${expr}`;
  let c = crons.get(key);
  if (!c) {
    c = new Cron(expr, { timezone: tz, paused: true, mode: expr.trim().split(/\s+/).length === 7 ? '7-part' : '5-part' });
    if (crons.size >= 500) crons.delete(crons.keys().next().value!);
    crons.set(key, c);
  }
  return c;
}

/** croner's next run strictly after `after`, guarded: a result not after `after` (openclaw #10035) is retried from a second, then a day, later. */
function cronNext(c: Cron, after: number): number | undefined {
  for (const from of [after, after + 1000, after + 86400_000]) {
    const d = c.nextRun(new Date(from));
    if (!d) return undefined;
    if (d.getTime() > after) return d.getTime();
  }
  return undefined;
}

/**
 * Reads a schedule typed by a person or the agent. `now` (ms) anchors
 * `in …` and `at 18:00`.
 *
 *   parseSchedule('every 2h', 'Europe/Berlin', Date.now())  // { kind: 'every', spec: '7200' }
 *   parseSchedule('tomorrow', 'UTC', Date.now())            // { error: '…: use `every 30m`, …' }
 */
export function parseSchedule(text: string, tz: string, now: number): Schedule | { error: string } {
  const t = text.trim().replace(/\s+/g, ' ');
  if (!t) return { error: `no schedule given: ${HELP}` };
  if (t.length > MAX_TEXT) return { error: `a schedule is at most ${MAX_TEXT} characters: ${HELP}` };
  const [word, ...restWords] = t.split(' ');
  const rest = restWords.join(' ');
  switch (word.toLowerCase()) {
    case 'in': {
      const sec = durationSec(rest);
      if (!sec) return { error: `"${t}" is not a delay like \`in 20m\`, \`in 2h\` or \`in 1d\`` };
      if (sec * 1000 > MAX_AHEAD_MS) return { error: `"${t}" is more than ten years ahead` };
      return { kind: 'once', spec: String(now + sec * 1000) };
    }
    case 'every': {
      const sec = durationSec(rest);
      if (!sec) return { error: `"${t}" is not an interval like \`every 30m\`, \`every 2h\` or \`every 1d\`` };
      if (sec > MAX_EVERY_SEC) return { error: `"${t}" is longer than a year: use \`cron\` for yearly tasks` };
      return { kind: 'every', spec: String(sec) };
    }
    case 'at':
      return parseAt(rest, tz, now);
    case 'cron': {
      const fields = rest.split(' ').filter(Boolean);
      if (fields.length !== 5) {
        return { error: `"${rest}" has ${fields.length} fields; a cron expression here has exactly five (minute hour day-of-month month day-of-week), e.g. \`cron 0 7 * * *\`` };
      }
      const expr = fields.join(' ');
      let c: Cron;
      try { c = cronOf(expr, tz); } catch (err) {
        return { error: `"${expr}" is not a valid cron expression (${(err as Error).message}): e.g. \`cron 0 7 * * *\` is every day at 07:00` };
      }
      if (cronNext(c, now) === undefined) return { error: `the cron expression "${expr}" never fires (check the day and month fields)` };
      return { kind: 'cron', spec: expr };
    }
    default:
      return { error: `"${t}" is not a schedule: ${HELP}` };
  }
}

/** `at 2026-12-24 18:00`, `at 2026-12-24T18:00`, `at 18:00` (wall time in tz) or an ISO instant with an offset. */
function parseAt(rest: string, tz: string, now: number): Schedule | { error: string } {
  const once = (ms: number | undefined, what: string): Schedule | { error: string } => {
    if (ms === undefined || ms <= now) return { error: `${what} is in the past (now it is ${formatInZone(now, tz)})` };
    if (ms - now > MAX_AHEAD_MS) return { error: `${what} is more than ten years ahead` };
    return { kind: 'once', spec: String(ms) };
  };
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(rest)) {
    const ms = Date.parse(rest);
    return Number.isFinite(ms) ? once(ms, rest) : { error: `"${rest}" is not a valid date and time` };
  }
  const dated = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$/.exec(rest);
  if (dated) {
    const [y, mo, d, h, mi] = dated.slice(1).map(Number);
    const check = new Date(Date.UTC(y, mo - 1, d, h, mi));
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || check.getUTCHours() !== h || check.getUTCMinutes() !== mi) {
      return { error: `"${rest}" is not a valid date and time` };
    }
    // croner turns the wall time into an instant with the same DST rule as cron tasks (a time in a gap: the first valid one after).
    return once(cronNext(cronOf(`0 ${mi} ${h} ${d} ${mo} * ${y}`, tz), now - 1), `${rest} (${tz})`);
  }
  const clock = /^(\d{1,2}):(\d{2})$/.exec(rest);
  if (clock && Number(clock[1]) < 24 && Number(clock[2]) < 60) {
    return once(cronNext(cronOf(`${Number(clock[2])} ${Number(clock[1])} * * *`, tz), now), rest);
  }
  return { error: `"at ${rest}" is not a time: use \`at 2026-12-24 18:00\`, \`at 18:00\` or an ISO time with an offset (\`at 2026-12-24T17:00:00Z\`)` };
}

/**
 * The first occurrence strictly after `after` (ms), or undefined when there
 * is none (a one-off that has happened, a cron with no later date).
 *
 *   nextOccurrence({ kind: 'every', spec: '3600' }, 'UTC', t0) // t0 + 3 600 000
 */
export function nextOccurrence(s: Schedule, tz: string, after: number): number | undefined {
  switch (s.kind) {
    case 'once': {
      const at = Number(s.spec);
      return at > after ? at : undefined;
    }
    case 'every':
      return after + Number(s.spec) * 1000;
    case 'cron':
      return cronNext(cronOf(s.spec, tz), after);
  }
}

/**
 * The occurrences from `first` (itself one, e.g. a task's next_run_at) up to
 * and including `to`: how many, and the latest. Counting stops at `cap`
 * (`capped`); the latest is still exact.
 */
export function occurrencesUntil(s: Schedule, tz: string, first: number, to: number, cap = 10_000): { count: number; last: number; capped: boolean } {
  if (first > to) return { count: 0, last: first, capped: false };
  if (s.kind === 'once') return { count: 1, last: first, capped: false };
  if (s.kind === 'every') {
    const step = Number(s.spec) * 1000;
    const n = Math.floor((to - first) / step);
    return { count: Math.min(n + 1, cap), last: first + n * step, capped: n + 1 > cap };
  }
  const c = cronOf(s.spec, tz);
  let count = 1;
  let last = first;
  for (let n = cronNext(c, last); n !== undefined && n <= to; n = cronNext(c, last)) {
    if (count >= cap) {
      const prev = c.previousRuns(1, new Date(to + 1))[0]?.getTime();
      return { count, last: prev !== undefined && prev > last && prev <= to ? prev : last, capped: true };
    }
    count++;
    last = n;
  }
  return { count, last, capped: false };
}

/**
 * Why a recurring schedule is refused as too frequent (tasks.minIntervalSec),
 * or undefined. For cron, the shortest gap among its next 200 occurrences.
 *
 *   tooFrequent({ kind: 'every', spec: '60' }, 'UTC', 300, Date.now()) // 'every 1 minute is more often than …'
 */
export function tooFrequent(s: Schedule, tz: string, minSec: number, now: number): string | undefined {
  let gap: number | undefined;
  if (s.kind === 'every') gap = Number(s.spec);
  if (s.kind === 'cron') {
    const c = cronOf(s.spec, tz);
    let prev = cronNext(c, now);
    for (let i = 0; i < 200 && prev !== undefined; i++) {
      const n = cronNext(c, prev);
      if (n === undefined) break;
      gap = Math.min(gap ?? Infinity, (n - prev) / 1000);
      prev = n;
    }
  }
  if (gap === undefined || gap >= minSec) return undefined;
  return `${describeSchedule(s, tz)} runs more often than this gateway allows (at most once every ${spanText(minSec)}, tasks.minIntervalSec): each run is a whole agent turn`;
}

/** 90 → '90 seconds', 3600 → '1 hour', 7200 → '2 hours'. */
function spanText(sec: number): string {
  const [n, unit] = sec % 86400 === 0 ? [sec / 86400, 'day'] : sec % 3600 === 0 ? [sec / 3600, 'hour'] : sec % 60 === 0 ? [sec / 60, 'minute'] : [sec, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const INT = /^\d{1,2}$/;

/**
 * A schedule in words: the common cron forms spelled out, the rest as the
 * expression, always with the zone a wall time is read in.
 *
 *   describeSchedule({ kind: 'cron', spec: '0 7 * * *' }, 'Europe/Berlin') // 'every day at 07:00 (Europe/Berlin)'
 */
export function describeSchedule(s: Schedule, tz: string): string {
  if (s.kind === 'once') return `once, at ${formatInZone(Number(s.spec), tz)}`;
  if (s.kind === 'every') {
    const sec = Number(s.spec);
    return sec === 86400 ? 'every day' : sec === 3600 ? 'every hour' : `every ${spanText(sec)}`;
  }
  const [mi, h, dom, mon, dow] = s.spec.split(' ');
  const zone = ` (${tz})`;
  if (INT.test(mi) && INT.test(h) && mon === '*') {
    const at = `at ${h.padStart(2, '0')}:${mi.padStart(2, '0')}${zone}`;
    if (dom === '*' && dow === '*') return `every day ${at}`;
    if (dom === '*' && dow === '1-5') return `every weekday (Monday to Friday) ${at}`;
    if (dom === '*' && /^[0-7]$/.test(dow)) return `every ${DAYS[Number(dow)]} ${at}`;
    if (INT.test(dom) && dow === '*') return `on day ${Number(dom)} of every month ${at}`;
  }
  if (INT.test(mi) && h === '*' && dom === '*' && mon === '*' && dow === '*') return `every hour at minute ${Number(mi)}${zone}`;
  const step = /^\*\/(\d{1,2})$/.exec(mi);
  if (step && 60 % Number(step[1]) === 0 && h === '*' && dom === '*' && mon === '*' && dow === '*') return `every ${spanText(Number(step[1]) * 60)}`;
  return `cron ${s.spec}${zone}`;
}
