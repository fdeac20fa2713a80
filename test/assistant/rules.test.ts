import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDay, formatMoney, smsSize, toGsm7 } from '../../src/modules/assistant/format.js';
import { parseQuestion } from '../../src/modules/assistant/intents.js';
import { composeMessage, type MessageFacts } from '../../src/modules/assistant/messages.js';
import { assessRisk, type BillHistory, type StudentHistory } from '../../src/modules/assistant/risk.js';
import { numbersGrounded } from '../../src/modules/assistant/assistant.service.js';

/**
 * The rule engine without a database: risk scores of hand-built histories with answers
 * worked out by hand (docs/assistant.md "Risk score"), message text in both languages,
 * GSM-7 handling and the question parser.
 */
const bill = (n: number, dueDate: string, amount: number, paidAmount: number, status: BillHistory['status'], settledOn: string | null = null): BillHistory => ({
  invoiceId: `00000000-0000-7000-8000-00000000000${n}`,
  number: `INV-00000${n}`,
  amount,
  paidAmount,
  dueDate,
  status,
  settledOn,
});

const history = (bills: BillHistory[], enrolledAt: string): StudentHistory => ({
  studentId: '00000000-0000-7000-8000-000000000099',
  schoolId: '00000000-0000-7000-8000-000000000098',
  schoolName: 'Colegio Alfa',
  displayName: 'Ana Alvarez',
  currency: 'MXN',
  enrolledAt,
  today: '2026-06-15',
  bills,
});

const points = (assessment: ReturnType<typeof assessRisk>) => Object.fromEntries(assessment.riskFactors.map((factor) => [factor.code, factor.points]));

describe('risk score', () => {
  test('an on-time payer of three years is LOW with zero late points', () => {
    const bills = [
      bill(1, '2026-01-10', 100_000, 100_000, 'PAID', '2026-01-08'),
      bill(2, '2026-02-10', 100_000, 100_000, 'PAID', '2026-02-08'),
      bill(3, '2026-03-10', 100_000, 100_000, 'PAID', '2026-03-10'),
      bill(4, '2026-04-10', 100_000, 100_000, 'PAID', '2026-04-01'),
      bill(5, '2026-05-10', 100_000, 100_000, 'PAID', '2026-05-09'),
      bill(6, '2026-07-10', 100_000, 0, 'PENDING'),
    ];
    const risk = assessRisk(history(bills, '2023-01-10'));
    assert.deepEqual(points(risk), { LATE_SHARE: 0, LATE_DEPTH: 0, OVERDUE_AMOUNT: 0, PARTIAL_PAYMENTS: 0, OUTSTANDING: 2, TREND: 0, TENURE: -5 });
    assert.equal(risk.riskScore, 0); // 2 − 5 clamped at 0
    assert.equal(risk.riskLevel, 'LOW');
    // ½ × (5 on time + 1) / (5 matured + 2) + ½ × (1 − 0) = 0.9286
    assert.equal(risk.predictedPaymentProbability, 0.93);
    assert.equal(risk.suggestedTone, null);
    assert.equal(risk.metrics.maturedCount, 5);
    assert.equal(risk.metrics.lateCount, 0);
    assert.equal(risk.metrics.outstandingAmount, 100_000);
  });

  test('a new family paying late and in parts, with two bills overdue, is HIGH with every factor as computed by hand', () => {
    const bills = [
      bill(1, '2026-01-10', 100_000, 100_000, 'PAID', '2026-01-08'), // on time
      bill(2, '2026-02-10', 100_000, 100_000, 'PAID', '2026-02-25'), // 15 days late
      bill(3, '2026-03-10', 100_000, 100_000, 'PAID', '2026-04-09'), // 30 days late
      bill(4, '2026-04-10', 100_000, 40_000, 'OVERDUE'), // 66 days, partly paid
      bill(5, '2026-05-10', 100_000, 0, 'OVERDUE'), // 36 days
      bill(6, '2026-07-10', 100_000, 0, 'PENDING'), // not due yet
    ];
    const risk = assessRisk(history(bills, '2026-01-01'));
    // late share 4/5 → 24; average (15+30+66+36)/4 = 36.75 days → 15; overdue 160 000 = 1.6 bills → 20;
    // 1 partial → 5; 100 000 not yet due = 1 bill → 2; trend 3/3 vs 1/2 late → +5; tenure 165 days → +5.
    assert.deepEqual(points(risk), { LATE_SHARE: 24, LATE_DEPTH: 15, OVERDUE_AMOUNT: 20, PARTIAL_PAYMENTS: 5, OUTSTANDING: 2, TREND: 5, TENURE: 5 });
    assert.equal(risk.riskScore, 76);
    assert.equal(risk.riskLevel, 'HIGH');
    const values = Object.fromEntries(risk.riskFactors.map((factor) => [factor.code, factor.value]));
    assert.deepEqual(values, { LATE_SHARE: 0.8, LATE_DEPTH: 36.8, OVERDUE_AMOUNT: 1.6, PARTIAL_PAYMENTS: 1, OUTSTANDING: 1, TREND: 0.5, TENURE: 165 });
    assert.equal(risk.metrics.maxDaysLate, 66);
    assert.equal(risk.metrics.overdueAmount, 160_000);
    assert.equal(risk.metrics.oldestOverdueDueDate, '2026-04-10');
    // ½ × (1 + 1) / (5 + 2) + ½ × (1 − 0.76) = 0.2629
    assert.equal(risk.predictedPaymentProbability, 0.26);
    // Oldest overdue 66 days → final notice.
    assert.equal(risk.suggestedTone, 'final_notice');
    const late = risk.riskFactors.find((factor) => factor.code === 'LATE_SHARE');
    assert.match(late?.detail ?? '', /4 of 5 bills/);
    assert.match(risk.summary, /HIGH risk, 76\/100/);
    assert.match(risk.summary, /MX\$1,600\.00 overdue since April 10, 2026/);
    assert.ok(risk.recommendations.some((text) => text.includes('MX$1,600.00')));
  });

  test('a payer who was late but now pays on time gets a negative trend and lands in MEDIUM', () => {
    const bills = [
      bill(1, '2025-11-10', 50_000, 50_000, 'PAID', '2025-12-20'), // 40 days late
      bill(2, '2025-12-10', 50_000, 50_000, 'PAID', '2026-01-19'), // 40 days late
      bill(3, '2026-01-10', 50_000, 50_000, 'PAID', '2026-02-19'), // 40 days late
      bill(4, '2026-02-10', 50_000, 50_000, 'PAID', '2026-02-01'),
      bill(5, '2026-03-10', 50_000, 50_000, 'PAID', '2026-03-01'),
      bill(6, '2026-04-10', 50_000, 50_000, 'PAID', '2026-04-01'),
      bill(7, '2026-06-01', 50_000, 0, 'OVERDUE'), // 14 days
    ];
    const risk = assessRisk(history(bills, '2025-01-01'));
    // late 4/7 → round(17.14) = 17; average (40×3 + 14)/4 = 33.5 → 15; overdue 1 bill → 12.5 → 13 (round half up);
    // trend: last 3 (1 late of 3) vs first 4 (3 of 4) → 10 × (0.333 − 0.75) = −4; tenure 530 days → 0.
    assert.deepEqual(points(risk), { LATE_SHARE: 17, LATE_DEPTH: 15, OVERDUE_AMOUNT: 13, PARTIAL_PAYMENTS: 0, OUTSTANDING: 0, TREND: -4, TENURE: 0 });
    assert.equal(risk.riskScore, 41);
    assert.equal(risk.riskLevel, 'MEDIUM');
    assert.equal(risk.suggestedTone, 'firm');
  });

  test('Spanish labels, details and summary', () => {
    const risk = assessRisk(history([bill(1, '2026-05-10', 100_000, 0, 'OVERDUE')], '2026-01-01'), 'es');
    assert.equal(risk.riskFactors[0]?.label, 'Pagos tardíos');
    assert.match(risk.summary, /tiene riesgo (LOW|MEDIUM|HIGH)/);
    assert.match(risk.summary, /\$1,000\.00 vencidos desde el 10 de mayo de 2026/);
  });
});

describe('collection messages', () => {
  const facts: MessageFacts = {
    studentName: 'Ana Álvarez',
    schoolName: 'Colegio Alfa',
    currency: 'MXN',
    today: '2026-06-15',
    bills: [
      { number: 'INV-000004', dueDate: '2026-04-10', pending: 60_000, overdue: true },
      { number: 'INV-000005', dueDate: '2026-05-10', pending: 100_000, overdue: true },
      { number: 'INV-000006', dueDate: '2026-07-10', pending: 100_000, overdue: false },
    ],
  };

  test('e-mail in Spanish: overdue amount and total in MXN, dates in words, bills listed', () => {
    const message = composeMessage(facts, { channel: 'email', language: 'es', tone: 'friendly' });
    assert.equal(message.subject, 'Recordatorio de pago: $1,600.00 de Ana Álvarez');
    assert.match(message.body, /^Estimada familia de Ana Álvarez:/);
    assert.match(message.body, /saldo vencido de \$1,600\.00 desde el 10 de abril de 2026/);
    assert.match(message.body, /saldo total, incluidas facturas por vencer: \$2,600\.00/);
    assert.match(message.body, /- INV-000006: \$1,000\.00, vence 10 de julio de 2026/);
    assert.deepEqual(message.amounts, { outstanding: 260_000, overdue: 160_000, formattedOutstanding: '$2,600.00', formattedOverdue: '$1,600.00' });
    assert.deepEqual(message.dueDates, { oldestOverdue: '2026-04-10', nextDue: '2026-07-10', payBy: null });
  });

  test('e-mail in English, firm: pay-by date is today + 7 days', () => {
    const message = composeMessage(facts, { channel: 'email', language: 'en', tone: 'firm' });
    assert.equal(message.subject, 'Overdue balance of MX$1,600.00 for Ana Álvarez');
    assert.match(message.body, /^Dear family of Ana Álvarez,/);
    assert.match(message.body, /overdue since April 10, 2026/);
    assert.match(message.body, /Please pay MX\$1,600\.00 by June 22, 2026/);
    assert.equal(message.dueDates.payBy, '2026-06-22');
  });

  test('final notice and WhatsApp carry the amount and the deadline (today + 3)', () => {
    const message = composeMessage(facts, { channel: 'whatsapp', language: 'es', tone: 'final_notice' });
    assert.equal(message.subject, null);
    assert.match(message.body, /\*AVISO FINAL\* de Colegio Alfa/);
    assert.match(message.body, /\*\$1,600\.00\* vencidos desde el 10 abr 2026/);
    assert.match(message.body, /18 jun 2026/);
  });

  test('a bill not yet due: "due on" with the next due date, in USD', () => {
    const message = composeMessage(
      { ...facts, currency: 'USD', bills: [{ number: null, dueDate: '2026-07-01', pending: 12_345, overdue: false }] },
      { channel: 'email', language: 'en', tone: 'friendly' },
    );
    assert.match(message.body, /a payment of \$123\.45 for Ana Álvarez is due on July 1, 2026/);
  });

  test('SMS: one GSM-7 segment of at most 160 characters in every language and tone, even with very long names', () => {
    const long: MessageFacts = {
      ...facts,
      studentName: 'Maximiliano Alejandro de la Santísima Trinidad Ñúñez',
      schoolName: 'Instituto Tecnológico y de Estudios Superiores de Monterrey, Campus Ciudad de México',
    };
    for (const f of [facts, long]) {
      for (const language of ['es', 'en'] as const) {
        for (const tone of ['friendly', 'firm', 'final_notice'] as const) {
          const message = composeMessage(f, { channel: 'sms', language, tone });
          const size = smsSize(message.body);
          assert.equal(size.encoding, 'GSM-7', message.body);
          assert.ok(size.units <= 160, `${size.units}: ${message.body}`);
          assert.equal(size.segments, 1);
          assert.equal(message.body, toGsm7(message.body));
          assert.ok(message.body.includes(toGsm7(formatMoney(160_000, 'MXN', language))), message.body);
          assert.ok(message.body.includes(formatDay('2026-04-10', language, 'short')), message.body);
        }
      }
    }
    // The short message keeps the whole sentence and the name (é and ñ are GSM-7, á is not).
    const short = composeMessage(facts, { channel: 'sms', language: 'es', tone: 'friendly' });
    assert.equal(short.body, 'Colegio Alfa: Ana Alvarez tiene $1,600.00 vencido desde el 10 abr 2026. ¿Ya pagó? Ignore este mensaje. ¡Gracias!'.replace('pagó', 'pago'));
  });
});

describe('money, dates and GSM-7', () => {
  test('minor units become major units by the currency’s ISO digits, in the language’s locale', () => {
    assert.equal(formatMoney(123_456, 'MXN', 'es'), '$1,234.56');
    assert.equal(formatMoney(123_456, 'MXN', 'en'), 'MX$1,234.56');
    assert.equal(formatMoney(123_456, 'USD', 'en'), '$1,234.56');
    assert.equal(formatMoney(123_456, 'COP', 'es'), '$ 1.234,56');
    assert.equal(formatMoney(123_456, 'CLP', 'es'), '$123.456');
    assert.equal(formatMoney(123_456, 'KWD', 'en'), 'KWD 123.456');
    assert.equal(formatMoney(123_456, 'EUR', 'es'), '1234,56 €');
  });

  test('dates are calendar days, never shifted by a zone', () => {
    assert.equal(formatDay('2026-01-01', 'es'), '1 de enero de 2026');
    assert.equal(formatDay('2026-12-31', 'en'), 'December 31, 2026');
    assert.equal(formatDay('2026-09-05', 'es', 'short'), '5 sep 2026');
  });

  test('GSM-7: accents outside the alphabet are dropped, extension characters count twice, other text is UCS-2', () => {
    assert.equal(toGsm7('Álvarez Núñez ¿pagó? “sí” — José 😀'), 'Alvarez Nuñez ¿pago? "si" - José ?');
    assert.deepEqual(smsSize('€10 {ok}'), { encoding: 'GSM-7', units: 11, segments: 1 });
    assert.deepEqual(smsSize('a'.repeat(161)), { encoding: 'GSM-7', units: 161, segments: 2 });
    assert.equal(smsSize('pagó').encoding, 'UCS-2');
  });

  test('numbersGrounded: numbers of 3+ digits must come from the data', () => {
    const data = { overdueFormatted: 'MX$1,600.00', overdue: 160_000, dueDate: '2026-04-10' };
    assert.equal(numbersGrounded('Ana owes MX$1,600.00 since 2026-04-10.', data), true);
    assert.equal(numbersGrounded('Ana owes 1,600 pesos.', data), true);
    assert.equal(numbersGrounded('Ana owes MX$987,654.32.', data), false);
  });
});

describe('question parser', () => {
  const cases: [string, string, string | undefined, string][] = [
    ['How much does Ana Alvarez owe?', 'STUDENT_BALANCE', 'Ana Alvarez', 'en'],
    ['¿Cuánto debe Ana Alvarez?', 'STUDENT_BALANCE', 'Ana Alvarez', 'es'],
    ['saldo de Beto Bravo', 'STUDENT_BALANCE', 'Beto Bravo', 'es'],
    ['Who is overdue in school Colegio Alfa?', 'OVERDUE_IN_SCHOOL', 'Colegio Alfa', 'en'],
    ['¿Quién tiene pagos vencidos en el colegio Alfa?', 'OVERDUE_IN_SCHOOL', 'Alfa', 'es'],
    ['Who is overdue?', 'OVERDUE_ALL', undefined, 'en'],
    ['Top debtors', 'TOP_DEBTORS', undefined, 'en'],
    ['¿Quiénes son los mayores deudores?', 'TOP_DEBTORS', undefined, 'es'],
    ['What is the collection rate this month?', 'COLLECTION_RATE', undefined, 'en'],
    ['¿Cuál es la tasa de cobranza de este mes?', 'COLLECTION_RATE', undefined, 'es'],
    ['Compare schools', 'COMPARE_SCHOOLS', undefined, 'en'],
    ['Compara los colegios', 'COMPARE_SCHOOLS', undefined, 'es'],
    ['What is the weather like?', 'HELP', undefined, 'en'],
  ];
  for (const [question, intent, subject, language] of cases) {
    test(`${question} → ${intent}`, () => {
      const parsed = parseQuestion(question);
      assert.equal(parsed.intent, intent);
      assert.equal(parsed.subject, subject);
      assert.equal(parsed.language, language);
    });
  }
  test('top N', () => {
    assert.equal(parseQuestion('top 3 debtors').limit, 3);
  });
});
