/**
 * Instants put into words for people, in a task's own time zone: a reminder
 * that says "18:00" must mean 18:00 where its owner lives, not on the server
 * (peers' most reported scheduling bug is a run announced or fired in UTC).
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (formatters.size > 200) formatters.clear();
    formatters.set(tz, f);
  }
  return f;
}

/**
 * The zone's short name at an instant: the letters people know (CET, EST,
 * BST) where either English locale has them, else an offset (GMT+5:30).
 */
export function zoneAbbreviation(ms: number, tz: string): string {
  const name = (locale: string) => new Intl.DateTimeFormat(locale, { timeZone: tz, timeZoneName: 'short' })
    .formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? tz;
  const us = name('en-US');
  if (!/^GMT[+-]/.test(us)) return us;
  const gb = name('en-GB');
  return /^GMT[+-]/.test(gb) ? us : gb;
}

/** The wall-clock fields of an instant in a zone (month 1-12, hour 0-23). */
export function wallFields(ms: number, tz: string): { year: number; month: number; day: number; hour: number; minute: number } {
  const get = (type: string) => Number(formatter(tz).formatToParts(ms).find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute') };
}

/**
 * An instant as a person in the zone reads it.
 *
 *   formatInZone(Date.parse('2026-12-24T17:00:00Z'), 'Europe/Berlin') // '2026-12-24 18:00 CET'
 */
export function formatInZone(ms: number, tz: string): string {
  const f = wallFields(ms, tz);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${f.year}-${p(f.month)}-${p(f.day)} ${p(f.hour)}:${p(f.minute)} ${zoneAbbreviation(ms, tz)}`;
}
