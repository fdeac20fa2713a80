import { createHash } from 'node:crypto';

/**
 * How the demo's families pay, shared by the demo seed (src/db/seed-demo.ts, the past)
 * and the demo simulator (simulator.ts, the present), so the two tell one story: the
 * seed writes every instalment whose time has come, the simulator pays the rest when
 * its clock reaches them (and records the declined attempts of declinedAttempts from
 * the seeding on; the seed writes its own few declined cards for the history). Pure
 * functions of a student's behaviour, a bill's due date and a stable key, no randomness
 * and no I/O.
 *
 * The mix is chosen so that every demo school shows, at any moment, bills of every kind
 * (SPEC §8 "families paying (on time, late, partly, never)"):
 * - tuition falls due on the 10th and is billed ISSUE_LEAD_DAYS before (about the 5th
 *   of the month before), so next month's bills exist before this month's fall due;
 * - `on_time` pays in full any day from two days after the bill is issued to the due
 *   date (PENDING until then);
 * - `late` pays in full 1–25 days after it, or (two in five) in two halves 1–29 days
 *   after it (OVERDUE meanwhile);
 * - `partial` pays half right after the bill is issued, up to three quarters 3–21 days
 *   before the due date, and one in two up to 90 % 2–24 days after it, never the rest
 *   (PARTIAL until the due date, OVERDUE after);
 * - `never` pays nothing (OVERDUE once due).
 *
 * The moments are spread by a hash of the student and the due date, at any hour, so
 * that the demo schools' payments fall on any day of the month rather than in a few
 * clusters around the due date. With twelve families a school that is still only one
 * or two payments a day across the three demo schools: the traffic follows the families.
 *
 * Declined attempts tell the same story (declinedAttempts): a family paying online
 * sometimes has a first attempt declined minutes before it pays (one instalment in ten,
 * one in five of those twice), and a struggling family (late, never) occasionally tries
 * and fails on an overdue bill — a bounded number per bill, each on its own day. Over
 * months about one attempt in seven fails (15 %), as at a real school's gateway.
 */
export type Behaviour = 'on_time' | 'late' | 'partial' | 'never';

/**
 * Behaviours of a demo school's students in creation order, repeating: per twelve, five
 * on time, three late, two partial and two never paying — so each school with at
 * least six students has every behaviour. The first is late: a school's first student
 * (the first one its page lists) always has a bill open. Migration 0012 repeats this
 * list for demos seeded before it.
 */
export const BEHAVIOUR_CYCLE: readonly Behaviour[] = ['late', 'on_time', 'partial', 'on_time', 'never', 'on_time', 'late', 'on_time', 'partial', 'on_time', 'late', 'never'];

export const behaviourAt = (index: number): Behaviour => BEHAVIOUR_CYCLE[index % BEHAVIOUR_CYCLE.length] ?? 'on_time';

/** Day of the month tuition falls due. */
export const DUE_DAY = 10;
/** A month is billed this many days before its due date. */
export const ISSUE_LEAD_DAYS = 35;
/** ...or this many when the school's upcoming bills have run low (a person paid them, say). */
export const LOW_LEAD_DAYS = 65;

export const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** A number in [0, 1) fixed by `key` (the first 32 bits of its SHA-256). */
export function unitOf(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 4_294_967_296;
}

/** '2026-09-10' → '2026-09-01'. */
export const monthOf = (date: string): string => `${date.slice(0, 7)}-01`;

/** The due date of a month's tuition: '2026-09-01' → '2026-09-10'. */
export const dueDateOf = (month: string): string => `${month.slice(0, 7)}-${String(DUE_DAY).padStart(2, '0')}`;

/** Noon UTC of a calendar date, in epoch ms: the reference instant of a due date. */
const noonOf = (date: string): number => Date.parse(`${date}T12:00:00Z`);

/** When a month's bills are issued: `lead` days before the due date (midnight UTC). */
export const issueTimeOf = (month: string, lead = ISSUE_LEAD_DAYS): number => Date.parse(`${dueDateOf(month)}T00:00:00Z`) - lead * DAY_MS;

/** `month` moved by `n` months: addMonths('2026-11-01', 2) → '2027-01-01'. */
export function addMonths(month: string, n: number): string {
  const date = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1 + n, 1));
  return date.toISOString().slice(0, 10);
}

/**
 * The months whose bills should exist at `now`, from `from` on: every month issued by
 * now (its issue time, `lead` days before the due date, has passed). Bounded: at most
 * the month after next, whatever `lead` is up to 65 days.
 */
export function monthsIssuedBy(now: number, from: string, lead = ISSUE_LEAD_DAYS): string[] {
  const months: string[] = [];
  for (let month = monthOf(from); issueTimeOf(month, lead) <= now && months.length < 24; month = addMonths(month, 1)) {
    months.push(month);
  }
  return months;
}

/** One step of a bill's plan: by `at` (epoch ms) the family has paid `paidUpTo` in total. */
export interface Instalment {
  at: number;
  paidUpTo: number;
}

/**
 * What a family with this behaviour pays on one bill, and when. `key` makes the timing
 * differ between families and months but stay the same for every run (the student id
 * and the due date: known before the invoice exists, so the seed can use it).
 */
export function paymentPlan(behaviour: Behaviour, key: string, dueDate: string, amount: number): Instalment[] {
  const u = unitOf(key);
  const due = noonOf(dueDate);
  switch (behaviour) {
    case 'on_time':
      // Any day from two days after the bill is issued to the due date: families pay when it suits them.
      return [{ at: due - 33 * u * DAY_MS, paidUpTo: amount }];
    case 'late': {
      if (unitOf(`${key}:halves`) < 0.4) {
        const first = due + (1 + 14 * u) * DAY_MS;
        return [
          { at: first, paidUpTo: Math.floor(amount / 2) },
          { at: first + (4 + 10 * unitOf(`${key}:rest`)) * DAY_MS, paidUpTo: amount },
        ];
      }
      return [{ at: due + (1 + 24 * u) * DAY_MS, paidUpTo: amount }];
    }
    case 'partial': {
      const plan: Instalment[] = [
        // Two to four days after the bill is issued, well before the previous month's bill falls due.
        { at: due - (33 - 2 * u) * DAY_MS, paidUpTo: Math.max(1, Math.floor(amount / 2)) },
        { at: due - (3 + 18 * unitOf(`${key}:second`)) * DAY_MS, paidUpTo: Math.max(1, Math.floor((amount * 3) / 4)) },
      ];
      if (unitOf(`${key}:third`) < 0.5) {
        plan.push({ at: due + (2 + 22 * unitOf(`${key}:third:at`)) * DAY_MS, paidUpTo: Math.max(1, Math.floor((amount * 9) / 10)) });
      }
      return plan;
    }
    case 'never':
      return [];
  }
}

/** A declined attempt of a bill's story: at `at` the family tried to pay `amount` and the gateway said no. */
export interface DeclinedAttempt {
  at: number;
  amount: number;
}

/** Share of instalments preceded by a declined attempt (minutes before the payment). */
export const DECLINED_BEFORE_PAYING = 0.1;
/** ...of which this share by two. */
export const DECLINED_TWICE = 0.2;

/**
 * The declined attempts of one bill, oldest first: the same key, due date and amount as
 * paymentPlan, the same kind of pure function. Before an instalment: one in ten declined
 * 10–90 minutes before it is paid (one in five of those twice, 5–45 minutes earlier),
 * for the amount of the instalment. On an overdue bill: a late family paying three days
 * or more after the due date tries once (one in eight), between the day after the due
 * date and the day before it pays; a family that never pays tries once 2–30 days after
 * the due date (one in five) and again 35–75 days after it (one in twenty). So a bill
 * has at most two attempts per instalment and two more, on different days: traffic
 * follows the families and cannot flood.
 */
export function declinedAttempts(behaviour: Behaviour, key: string, dueDate: string, amount: number): DeclinedAttempt[] {
  const plan = paymentPlan(behaviour, key, dueDate, amount);
  const attempts: DeclinedAttempt[] = [];
  let paid = 0;
  plan.forEach((step, i) => {
    const part = step.paidUpTo - paid;
    paid = Math.max(paid, step.paidUpTo);
    if (part <= 0 || unitOf(`${key}:declined:${i}`) >= DECLINED_BEFORE_PAYING) {
      return;
    }
    const first = step.at - (10 + 80 * unitOf(`${key}:declined:${i}:at`)) * MINUTE_MS;
    if (unitOf(`${key}:declined:${i}:again`) < DECLINED_TWICE) {
      attempts.push({ at: first - (5 + 40 * unitOf(`${key}:declined:${i}:again:at`)) * MINUTE_MS, amount: part });
    }
    attempts.push({ at: first, amount: part });
  });
  const due = noonOf(dueDate);
  const pays = plan[0]?.at ?? due;
  if (behaviour === 'late' && pays >= due + 3 * DAY_MS && unitOf(`${key}:overdue`) < 0.12) {
    attempts.push({ at: due + DAY_MS + (pays - due - 2 * DAY_MS) * unitOf(`${key}:overdue:at`), amount });
  }
  if (behaviour === 'never') {
    if (unitOf(`${key}:overdue`) < 0.2) {
      attempts.push({ at: due + (2 + 28 * unitOf(`${key}:overdue:at`)) * DAY_MS, amount });
    }
    if (unitOf(`${key}:overdue:again`) < 0.05) {
      attempts.push({ at: due + (35 + 40 * unitOf(`${key}:overdue:again:at`)) * DAY_MS, amount });
    }
  }
  return attempts.sort((a, b) => a.at - b.at);
}

/** What the plan says is paid by `now` (0 before the first instalment). */
export function plannedPaidBy(plan: readonly Instalment[], now: number): number {
  let paid = 0;
  for (const step of plan) {
    if (step.at <= now) {
      paid = Math.max(paid, step.paidUpTo);
    }
  }
  return paid;
}

/** The key of a student's bill for a due date, as paymentPlan takes it. */
export const planKey = (studentId: string, dueDate: string): string => `${studentId}:${dueDate}`;
