import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { todayIn } from '../../src/shared/time.js';
import {
  addMonths,
  BEHAVIOUR_CYCLE,
  behaviourAt,
  DAY_MS,
  DECLINED_BEFORE_PAYING,
  declinedAttempts,
  dueDateOf,
  issueTimeOf,
  monthOf,
  monthsIssuedBy,
  paymentPlan,
  plannedPaidBy,
  planKey,
  type Behaviour,
} from '../../src/modules/simulator/demo-plan.js';

/** The payment plans shared by the demo seed and the simulator (pure functions). */
describe('demo payment plans', () => {
  const noon = (date: string) => Date.parse(`${date}T12:00:00Z`);

  test('behaviours: per twelve students five on time, three late, two partial, two never; the first six hold all four', () => {
    const counts = (behaviours: Behaviour[]) => Object.fromEntries(['on_time', 'late', 'partial', 'never'].map((b) => [b, behaviours.filter((x) => x === b).length]));
    assert.deepEqual(counts([...BEHAVIOUR_CYCLE]), { on_time: 5, late: 3, partial: 2, never: 2 });
    // A school's first six students already have all four behaviours.
    assert.deepEqual(new Set(Array.from({ length: 6 }, (_, i) => behaviourAt(i))), new Set(['on_time', 'late', 'partial', 'never']));
    assert.equal(behaviourAt(12), behaviourAt(0));
    assert.equal(behaviourAt(29), behaviourAt(5));
  });

  test('months: due on the 10th, issued 35 days before; only months issued by now, never beyond the month after next', () => {
    assert.equal(dueDateOf('2026-09-01'), '2026-09-10');
    assert.equal(addMonths('2026-11-01', 2), '2027-01-01');
    assert.equal(addMonths('2026-03-01', -4), '2025-11-01');
    assert.equal(new Date(issueTimeOf('2026-10-01')).toISOString(), '2026-09-05T00:00:00.000Z');
    // 4 September: October is not issued yet; 5 September it is.
    assert.deepEqual(monthsIssuedBy(Date.parse('2026-09-04T23:00:00Z'), '2026-08-01'), ['2026-08-01', '2026-09-01']);
    assert.deepEqual(monthsIssuedBy(Date.parse('2026-09-05T00:00:00Z'), '2026-08-01'), ['2026-08-01', '2026-09-01', '2026-10-01']);
    // Running low: a 65-day lead bills November from 6 September on.
    assert.deepEqual(monthsIssuedBy(Date.parse('2026-09-06T00:00:00Z'), '2026-09-01', 65), ['2026-09-01', '2026-10-01', '2026-11-01']);
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }), fc.integer({ min: 35, max: 65 }), (now, lead) => {
        const from = `${new Date(now).toISOString().slice(0, 7)}-01`;
        const months = monthsIssuedBy(now, from, lead);
        assert.ok(months.length >= 1 && months.length <= 3, months.join());
        for (const month of months) {
          assert.ok(issueTimeOf(month, lead) <= now);
        }
      }),
    );
  });

  test('on time pays in full by the due date, late after it (whole or in halves), partial in two or three instalments never in full, never nothing', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 2, max: 100_000_000 }), (studentId, monthIndex, amount) => {
        const month = addMonths('2024-01-01', monthIndex);
        const due = dueDateOf(month);
        const key = planKey(studentId, due);
        const issued = issueTimeOf(month);
        for (const behaviour of ['on_time', 'late', 'partial', 'never'] as const) {
          const plan = paymentPlan(behaviour, key, due, amount);
          // Instalments in time order, never paying back, never more than the bill, none before it is issued.
          plan.forEach((step, i) => {
            assert.ok(step.at >= issued + 2 * DAY_MS, `${behaviour} pays before the bill is issued`);
            assert.ok(step.paidUpTo >= 1 && step.paidUpTo <= amount);
            assert.ok(i === 0 || (step.at > (plan[i - 1]?.at ?? 0) && step.paidUpTo >= (plan[i - 1]?.paidUpTo ?? 0)));
          });
          // The same inputs always give the same plan.
          assert.deepEqual(paymentPlan(behaviour, key, due, amount), plan);
        }
        const [onTime, ...more] = paymentPlan('on_time', key, due, amount);
        assert.ok(onTime && more.length === 0 && onTime.paidUpTo === amount && onTime.at <= noon(due));
        const late = paymentPlan('late', key, due, amount);
        assert.ok(late.length === 1 || late.length === 2, `late in ${late.length} parts`);
        assert.ok((late[0]?.at ?? 0) >= noon(due) + DAY_MS && (late.at(-1)?.at ?? Infinity) <= noon(due) + 29 * DAY_MS);
        assert.equal(late.at(-1)?.paidUpTo, amount);
        const partial = paymentPlan('partial', key, due, amount);
        assert.ok(partial.length === 2 || partial.length === 3, `partial in ${partial.length} instalments`);
        // Half, after the bill is issued and before the previous month's bill falls due (so a PARTIAL bill always exists)...
        assert.ok(partial[0]?.paidUpTo === Math.max(1, Math.floor(amount / 2)) && (partial[0]?.at ?? Infinity) <= noon(due) - 31 * DAY_MS);
        // ...more before the due date, and never all of it.
        assert.ok((partial[1]?.at ?? Infinity) < noon(due));
        assert.ok((partial.at(-1)?.paidUpTo ?? amount) < amount);
        assert.deepEqual(paymentPlan('never', key, due, amount), []);
      }),
    );
  });

  test('declined attempts: minutes before a payment, or on an overdue bill of a struggling family; a few per bill, never after it is settled', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 2, max: 100_000_000 }), (studentId, monthIndex, amount) => {
        const month = addMonths('2024-01-01', monthIndex);
        const due = dueDateOf(month);
        const key = planKey(studentId, due);
        for (const behaviour of ['on_time', 'late', 'partial', 'never'] as const) {
          const plan = paymentPlan(behaviour, key, due, amount);
          const attempts = declinedAttempts(behaviour, key, due, amount);
          assert.deepEqual(declinedAttempts(behaviour, key, due, amount), attempts, 'the same inputs, the same attempts');
          assert.ok(attempts.length <= 2 * plan.length + 2, `${attempts.length} attempts on one bill`);
          const overdue: number[] = [];
          attempts.forEach((attempt, i) => {
            assert.ok(i === 0 || attempt.at >= (attempts[i - 1]?.at ?? 0), 'oldest first');
            assert.ok(Number.isSafeInteger(attempt.amount) && attempt.amount >= 1 && attempt.amount <= amount);
            assert.ok(attempt.at >= issueTimeOf(month), 'not before the bill is issued');
            // Before a payment: the next instalment follows within two and a quarter hours.
            const next = plan.find((step) => step.at > attempt.at);
            if (next && next.at - attempt.at <= 135 * 60_000) {
              return;
            }
            // Otherwise on an overdue bill (its family has not paid yet), a day or more after the due date.
            assert.ok(behaviour === 'late' || behaviour === 'never', `${behaviour}: an attempt not followed by a payment`);
            assert.ok(attempt.at >= noon(due) + DAY_MS && plannedPaidBy(plan, attempt.at) === 0);
            assert.ok(!next || next.at - attempt.at >= DAY_MS, 'a day or more before the late family pays');
            overdue.push(Math.floor(attempt.at / DAY_MS));
          });
          assert.ok(overdue.length <= 2 && new Set(overdue).size === overdue.length, 'at most two overdue attempts, on different days');
          // Nothing after the bill is paid in full.
          const paid = plan.find((step) => step.paidUpTo === amount);
          assert.ok(!paid || attempts.every((attempt) => attempt.at < paid.at));
        }
      }),
    );
  });

  test('over two years of a twelve-student school, about one attempt in seven is declined (10–20 %): realistic, not a flood', () => {
    let payments = 0;
    let declined = 0;
    let beforePaying = 0;
    for (let student = 0; student < 120; student++) {
      for (let month = 0; month < 24; month++) {
        const due = dueDateOf(addMonths('2025-01-01', month));
        const key = planKey(`00000000-0000-7000-8000-${String(student).padStart(12, '0')}`, due);
        const behaviour = behaviourAt(student);
        const plan = paymentPlan(behaviour, key, due, 100_000);
        const attempts = declinedAttempts(behaviour, key, due, 100_000);
        payments += plan.length;
        declined += attempts.length;
        beforePaying += attempts.filter((attempt) => plan.some((step) => step.at > attempt.at && step.at - attempt.at <= 135 * 60_000)).length;
      }
    }
    const share = declined / (declined + payments);
    assert.ok(share >= 0.1 && share <= 0.2, `declined share ${share.toFixed(3)} (${declined} of ${declined + payments})`);
    // Most of them come right before a payment, as at a real gateway: about one payment in ten.
    assert.ok(beforePaying / declined >= 0.5, `${beforePaying} of ${declined} before a payment`);
    const paymentsAfterDecline = beforePaying / payments;
    assert.ok(paymentsAfterDecline >= DECLINED_BEFORE_PAYING * 0.8 && paymentsAfterDecline <= DECLINED_BEFORE_PAYING * 1.2 * 1.5, `${paymentsAfterDecline}`);
  });

  test('the plans alone keep a school of twelve with open, partial and overdue bills at every hour of two years, in every demo zone', () => {
    // Each family paid exactly as planned; bills exist from their issue time on.
    const students = Array.from({ length: 12 }, (_, i) => ({ id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, behaviour: behaviourAt(i) }));
    const bills = Array.from({ length: 30 }, (_, i) => addMonths('2025-09-01', i)).flatMap((month) =>
      students.map((student) => {
        const due = dueDateOf(month);
        return { issuedAt: issueTimeOf(month), due, plan: paymentPlan(student.behaviour, planKey(student.id, due), due, 1_000) };
      }),
    );
    const start = Date.UTC(2026, 0, 1);
    const gaps: string[] = [];
    for (const timeZone of ['America/Mexico_City', 'America/Bogota', 'America/New_York']) {
      const local = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
      assert.equal(local.format(start), todayIn(timeZone, new Date(start)), 'the same local date as the application’s');
      for (let now = start; now < start + 730 * DAY_MS; now += 3_600_000) {
        const today = local.format(now);
        const seen = new Set<string>();
        for (const bill of bills) {
          if (bill.issuedAt <= now) {
            const paid = plannedPaidBy(bill.plan, now);
            seen.add(paid >= 1_000 ? 'PAID' : bill.due < today ? 'OVERDUE' : paid > 0 ? 'PARTIAL' : 'PENDING');
          }
        }
        for (const status of ['PENDING', 'PARTIAL', 'OVERDUE']) {
          if (!seen.has(status)) {
            gaps.push(`${timeZone} ${new Date(now).toISOString()} (${monthOf(today)}): no ${status}`);
          }
        }
      }
    }
    assert.deepEqual(gaps.slice(0, 5), []);
  });

  test('plannedPaidBy: nothing before the first instalment, then what it says', () => {
    const plan = paymentPlan('on_time', planKey('s', '2026-09-10'), '2026-09-10', 1_000);
    const at = plan[0]?.at ?? 0;
    assert.equal(plannedPaidBy(plan, at - 1), 0);
    assert.equal(plannedPaidBy(plan, at), 1_000);
    assert.equal(plannedPaidBy([], Date.now()), 0);
    assert.equal(plannedPaidBy([{ at: 1, paidUpTo: 5 }, { at: 2, paidUpTo: 9 }], 3), 9);
  });
});
