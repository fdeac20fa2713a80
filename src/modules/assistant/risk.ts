import type { InvoiceStatus } from '../billing/billing.schemas.js';
import { daysBetween, formatDay, formatMoney, type Language } from './format.js';

/**
 * The rule engine's risk score: deterministic, explainable, documented in
 * docs/assistant.md ("Risk score"). Every factor is always reported, with the points it
 * adds (or removes) and the numbers behind them, so the score can be re-derived by hand.
 *
 * Definitions (dates are calendar days in the school's time zone):
 *  - a bill is *matured* when it is fully paid or its due date has passed; bills not yet
 *    due and not yet paid say nothing about behaviour yet;
 *  - a matured bill is *late* when it was settled after its due date, or is OVERDUE (not
 *    fully paid, due date past — the billing module's invoice_status);
 *  - days late: settled day − due date, or today − due date while still unpaid.
 */
export interface BillHistory {
  invoiceId: string;
  number: string;
  amount: number;
  paidAmount: number;
  dueDate: string;
  /** invoice_status(); cancelled bills are never part of a history. */
  status: Exclude<InvoiceStatus, 'CANCELLED'>;
  /** School-local day of the payment that completed the bill; null while not fully paid. */
  settledOn: string | null;
}

export interface StudentHistory {
  studentId: string;
  schoolId: string;
  schoolName: string;
  /** The name as the caller may see it (initials for masked roles). */
  displayName: string;
  currency: string;
  enrolledAt: string;
  /** Today in the school's time zone. */
  today: string;
  /** Non-cancelled bills, oldest due first. */
  bills: BillHistory[];
}

export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH';
export type RiskFactorCode = 'LATE_SHARE' | 'LATE_DEPTH' | 'OVERDUE_AMOUNT' | 'PARTIAL_PAYMENTS' | 'OUTSTANDING' | 'TREND' | 'TENURE';
export type Tone = 'friendly' | 'firm' | 'final_notice';

export interface RiskFactor {
  code: RiskFactorCode;
  label: string;
  /** The most points this factor can add (TREND and TENURE can also remove up to this many). */
  weight: number;
  points: number;
  /** The measured quantity (a share 0..1, days, bills' worth, a count — see `detail`). */
  value: number;
  detail: string;
}

export interface RiskMetrics {
  billCount: number;
  maturedCount: number;
  lateCount: number;
  onTimeCount: number;
  lateShare: number;
  averageDaysLate: number;
  maxDaysLate: number;
  partialCount: number;
  outstandingAmount: number;
  overdueAmount: number;
  overdueCount: number;
  oldestOverdueDueDate: string | null;
  averageBillAmount: number;
  tenureDays: number;
}

export interface RiskAssessment {
  riskLevel: RiskLevel;
  riskScore: number;
  riskFactors: RiskFactor[];
  recommendations: string[];
  predictedPaymentProbability: number;
  suggestedAction: string;
  suggestedTone: Tone | null;
  summary: string;
  metrics: RiskMetrics;
}

export const WEIGHTS = {
  LATE_SHARE: 30,
  LATE_DEPTH: 20,
  OVERDUE_AMOUNT: 25,
  PARTIAL_PAYMENTS: 10,
  OUTSTANDING: 5,
  TREND: 10,
  TENURE: 5,
} as const satisfies Record<RiskFactorCode, number>;

/** Levels: HIGH from 60 points, MEDIUM from 30. */
export const LEVEL_THRESHOLDS = { HIGH: 60, MEDIUM: 30 } as const;
/** The trend compares the most recent matured bills with the ones before them. */
export const TREND_WINDOW = 3;

const round2 = (value: number) => Math.round(value * 100) / 100;
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const pct = (share: number) => `${Math.round(share * 100)}%`;
const tr = (language: Language, en: string, es: string) => (language === 'es' ? es : en);

/** Points for the average depth of late payments, in tiers. */
export function depthPoints(averageDaysLate: number): number {
  if (averageDaysLate <= 0) {
    return 0;
  }
  if (averageDaysLate <= 7) {
    return 5;
  }
  if (averageDaysLate <= 30) {
    return 10;
  }
  if (averageDaysLate <= 60) {
    return 15;
  }
  return 20;
}

function daysLateOf(bill: BillHistory, today: string): number | null {
  if (bill.status === 'PAID') {
    return bill.settledOn === null ? 0 : Math.max(0, daysBetween(bill.dueDate, bill.settledOn));
  }
  if (bill.status === 'OVERDUE') {
    return Math.max(1, daysBetween(bill.dueDate, today));
  }
  return null; // not matured yet
}

export function assessRisk(history: StudentHistory, language: Language = 'en'): RiskAssessment {
  const { bills, today, currency } = history;
  const money = (minor: number) => formatMoney(minor, currency, language);
  const matured = bills
    .map((bill) => ({ bill, daysLate: daysLateOf(bill, today) }))
    .filter((entry): entry is { bill: BillHistory; daysLate: number } => entry.daysLate !== null);
  const late = matured.filter((entry) => entry.daysLate > 0);
  const lateShare = matured.length === 0 ? 0 : late.length / matured.length;
  const averageDaysLate = late.length === 0 ? 0 : late.reduce((sum, entry) => sum + entry.daysLate, 0) / late.length;
  const maxDaysLate = late.reduce((max, entry) => Math.max(max, entry.daysLate), 0);
  const open = bills.filter((bill) => bill.status !== 'PAID');
  const partialCount = open.filter((bill) => bill.paidAmount > 0).length;
  const outstandingAmount = open.reduce((sum, bill) => sum + (bill.amount - bill.paidAmount), 0);
  const overdue = open.filter((bill) => bill.status === 'OVERDUE');
  const overdueAmount = overdue.reduce((sum, bill) => sum + (bill.amount - bill.paidAmount), 0);
  const oldestOverdueDueDate = overdue.length === 0 ? null : overdue.reduce((min, bill) => (bill.dueDate < min ? bill.dueDate : min), overdue[0]?.dueDate ?? today);
  const averageBillAmount = bills.length === 0 ? 0 : Math.round(bills.reduce((sum, bill) => sum + bill.amount, 0) / bills.length);
  const tenureDays = Math.max(0, daysBetween(history.enrolledAt, today));

  const factors: RiskFactor[] = [];

  // 1. Share of matured bills paid late or still overdue.
  const lateSharePoints = Math.round(WEIGHTS.LATE_SHARE * lateShare);
  factors.push({
    code: 'LATE_SHARE',
    label: tr(language, 'Late payments', 'Pagos tardíos'),
    weight: WEIGHTS.LATE_SHARE,
    points: lateSharePoints,
    value: round2(lateShare),
    detail:
      matured.length === 0
        ? tr(language, 'No bill has come due yet.', 'Aún no vence ninguna factura.')
        : tr(
            language,
            `${late.length} of ${matured.length} bills due so far were paid late or are still unpaid (${pct(lateShare)}) → ${WEIGHTS.LATE_SHARE} × ${round2(lateShare)} = ${lateSharePoints} points.`,
            `${late.length} de ${matured.length} facturas vencidas se pagaron tarde o siguen sin pagar (${pct(lateShare)}) → ${WEIGHTS.LATE_SHARE} × ${round2(lateShare)} = ${lateSharePoints} puntos.`,
          ),
  });

  // 2. How late, on average.
  const depth = depthPoints(averageDaysLate);
  const averageDays = Math.round(averageDaysLate * 10) / 10;
  factors.push({
    code: 'LATE_DEPTH',
    label: tr(language, 'Days late', 'Días de atraso'),
    weight: WEIGHTS.LATE_DEPTH,
    points: depth,
    value: averageDays,
    detail:
      late.length === 0
        ? tr(language, 'No late payments.', 'Sin pagos tardíos.')
        : tr(
            language,
            `Late bills were on average ${averageDays} days late (worst ${maxDaysLate}); tiers 1–7 / 8–30 / 31–60 / over 60 days = 5 / 10 / 15 / 20 → ${depth} points.`,
            `Las facturas tardías se atrasaron en promedio ${averageDays} días (máximo ${maxDaysLate}); tramos 1–7 / 8–30 / 31–60 / más de 60 días = 5 / 10 / 15 / 20 → ${depth} puntos.`,
          ),
  });

  // 3. Overdue amount, in bills' worth (the student's average bill).
  const overdueBills = averageBillAmount === 0 ? 0 : overdueAmount / averageBillAmount;
  const overduePoints = Math.round((WEIGHTS.OVERDUE_AMOUNT / 2) * Math.min(2, overdueBills));
  factors.push({
    code: 'OVERDUE_AMOUNT',
    label: tr(language, 'Overdue balance', 'Saldo vencido'),
    weight: WEIGHTS.OVERDUE_AMOUNT,
    points: overduePoints,
    value: round2(overdueBills),
    detail:
      overdueAmount === 0
        ? tr(language, 'Nothing overdue.', 'Nada vencido.')
        : tr(
            language,
            `${money(overdueAmount)} overdue in ${overdue.length} bill(s) since ${formatDay(oldestOverdueDueDate ?? today, language)} = ${round2(overdueBills)} average bills (${money(averageBillAmount)}); 12.5 points per bill, at most 2 → ${overduePoints} points.`,
            `${money(overdueAmount)} vencidos en ${overdue.length} factura(s) desde el ${formatDay(oldestOverdueDueDate ?? today, language)} = ${round2(overdueBills)} facturas promedio (${money(averageBillAmount)}); 12.5 puntos por factura, máximo 2 → ${overduePoints} puntos.`,
          ),
  });

  // 4. Bills left partly paid.
  const partialPoints = Math.min(WEIGHTS.PARTIAL_PAYMENTS, 5 * partialCount);
  factors.push({
    code: 'PARTIAL_PAYMENTS',
    label: tr(language, 'Partial payments', 'Pagos parciales'),
    weight: WEIGHTS.PARTIAL_PAYMENTS,
    points: partialPoints,
    value: partialCount,
    detail:
      partialCount === 0
        ? tr(language, 'No bill is left partly paid.', 'Ninguna factura quedó pagada en parte.')
        : tr(
            language,
            `${partialCount} open bill(s) partly paid; 5 points each, at most ${WEIGHTS.PARTIAL_PAYMENTS} → ${partialPoints} points.`,
            `${partialCount} factura(s) abiertas pagadas en parte; 5 puntos cada una, máximo ${WEIGHTS.PARTIAL_PAYMENTS} → ${partialPoints} puntos.`,
          ),
  });

  // 5. Pending but not yet due.
  const notDue = outstandingAmount - overdueAmount;
  const notDueBills = averageBillAmount === 0 ? 0 : notDue / averageBillAmount;
  const outstandingPoints = Math.min(WEIGHTS.OUTSTANDING, Math.round((WEIGHTS.OUTSTANDING * notDueBills) / 3));
  factors.push({
    code: 'OUTSTANDING',
    label: tr(language, 'Balance not yet due', 'Saldo por vencer'),
    weight: WEIGHTS.OUTSTANDING,
    points: outstandingPoints,
    value: round2(notDueBills),
    detail: tr(
      language,
      `${money(notDue)} pending and not yet due = ${round2(notDueBills)} average bills; 5 points at 3 bills or more → ${outstandingPoints} points. Total outstanding ${money(outstandingAmount)}.`,
      `${money(notDue)} pendientes aún no vencidos = ${round2(notDueBills)} facturas promedio; 5 puntos con 3 facturas o más → ${outstandingPoints} puntos. Saldo total ${money(outstandingAmount)}.`,
    ),
  });

  // 6. Trend: the last TREND_WINDOW matured bills against the ones before.
  const byDue = [...matured].sort((a, b) => (a.bill.dueDate < b.bill.dueDate ? -1 : a.bill.dueDate > b.bill.dueDate ? 1 : 0));
  const recent = byDue.slice(-TREND_WINDOW);
  const older = byDue.slice(0, Math.max(0, byDue.length - TREND_WINDOW));
  const lateShareOf = (entries: typeof byDue) => (entries.length === 0 ? 0 : entries.filter((e) => e.daysLate > 0).length / entries.length);
  const trendDelta = older.length === 0 ? 0 : lateShareOf(recent) - lateShareOf(older);
  const trendPoints = Math.round(WEIGHTS.TREND * trendDelta);
  factors.push({
    code: 'TREND',
    label: tr(language, 'Trend', 'Tendencia'),
    weight: WEIGHTS.TREND,
    points: trendPoints,
    value: round2(trendDelta),
    detail:
      older.length === 0
        ? tr(language, `Needs more than ${TREND_WINDOW} bills due to compare.`, `Se necesitan más de ${TREND_WINDOW} facturas vencidas para comparar.`)
        : tr(
            language,
            `Late share of the last ${recent.length} bills ${pct(lateShareOf(recent))} vs ${pct(lateShareOf(older))} of the ${older.length} before (${trendDelta > 0 ? 'worsening' : trendDelta < 0 ? 'improving' : 'stable'}) → ${WEIGHTS.TREND} × ${round2(trendDelta)} = ${trendPoints} points.`,
            `Proporción tardía de las últimas ${recent.length} facturas ${pct(lateShareOf(recent))} vs ${pct(lateShareOf(older))} de las ${older.length} anteriores (${trendDelta > 0 ? 'empeora' : trendDelta < 0 ? 'mejora' : 'estable'}) → ${WEIGHTS.TREND} × ${round2(trendDelta)} = ${trendPoints} puntos.`,
          ),
  });

  // 7. Tenure: new families are less known; long-standing ones earn a small credit.
  const tenurePoints = tenureDays < 180 ? WEIGHTS.TENURE : tenureDays >= 730 ? -WEIGHTS.TENURE : 0;
  factors.push({
    code: 'TENURE',
    label: tr(language, 'Tenure', 'Antigüedad'),
    weight: WEIGHTS.TENURE,
    points: tenurePoints,
    value: tenureDays,
    detail: tr(
      language,
      `Enrolled ${tenureDays} days ago (since ${formatDay(history.enrolledAt, language)}); under 180 days +5, 2 years or more −5 → ${tenurePoints} points.`,
      `Inscrito hace ${tenureDays} días (desde el ${formatDay(history.enrolledAt, language)}); menos de 180 días +5, 2 años o más −5 → ${tenurePoints} puntos.`,
    ),
  });

  const riskScore = clamp(factors.reduce((sum, factor) => sum + factor.points, 0), 0, 100);
  const riskLevel: RiskLevel = riskScore >= LEVEL_THRESHOLDS.HIGH ? 'HIGH' : riskScore >= LEVEL_THRESHOLDS.MEDIUM ? 'MEDIUM' : 'LOW';
  const onTimeCount = matured.length - late.length;
  // Half history (on-time share with Laplace smoothing), half the score.
  const predictedPaymentProbability = round2(clamp(0.5 * ((onTimeCount + 1) / (matured.length + 2)) + 0.5 * (1 - riskScore / 100), 0.02, 0.98));

  const metrics: RiskMetrics = {
    billCount: bills.length,
    maturedCount: matured.length,
    lateCount: late.length,
    onTimeCount,
    lateShare: round2(lateShare),
    averageDaysLate: averageDays,
    maxDaysLate,
    partialCount,
    outstandingAmount,
    overdueAmount,
    overdueCount: overdue.length,
    oldestOverdueDueDate,
    averageBillAmount,
    tenureDays,
  };
  const { suggestedAction, suggestedTone, recommendations } = advise(riskLevel, metrics, history, language);
  const name = history.displayName;
  const summary = tr(
    language,
    `${name} (${history.schoolName}) is ${riskLevel} risk, ${riskScore}/100: ${late.length} of ${matured.length} bills due were late` +
      (overdueAmount > 0 ? `, ${money(overdueAmount)} overdue since ${formatDay(oldestOverdueDueDate ?? today, language)}` : ', nothing overdue') +
      `; total outstanding ${money(outstandingAmount)}. Estimated chance of paying the next bill on time: ${pct(predictedPaymentProbability)}.`,
    `${name} (${history.schoolName}) tiene riesgo ${riskLevel}, ${riskScore}/100: ${late.length} de ${matured.length} facturas vencidas se pagaron tarde` +
      (overdueAmount > 0 ? `, ${money(overdueAmount)} vencidos desde el ${formatDay(oldestOverdueDueDate ?? today, language)}` : ', nada vencido') +
      `; saldo total ${money(outstandingAmount)}. Probabilidad estimada de pagar la próxima factura a tiempo: ${pct(predictedPaymentProbability)}.`,
  );
  return { riskLevel, riskScore, riskFactors: factors, recommendations, predictedPaymentProbability, suggestedAction, suggestedTone, summary, metrics };
}

function advise(level: RiskLevel, m: RiskMetrics, history: StudentHistory, language: Language) {
  const money = (minor: number) => formatMoney(minor, history.currency, language);
  const recommendations: string[] = [];
  const daysOverdue = m.oldestOverdueDueDate === null ? 0 : daysBetween(m.oldestOverdueDueDate, history.today);
  let suggestedTone: Tone | null = null;
  let suggestedAction: string;
  if (m.overdueAmount > 0 && (level === 'HIGH' || daysOverdue > 60)) {
    suggestedTone = daysOverdue > 60 ? 'final_notice' : 'firm';
    suggestedAction = tr(
      language,
      `Call the family today and agree a payment plan for ${money(m.overdueAmount)} overdue; send a ${suggestedTone === 'final_notice' ? 'final notice' : 'firm reminder'}.`,
      `Llamar hoy a la familia y acordar un plan de pagos por ${money(m.overdueAmount)} vencidos; enviar ${suggestedTone === 'final_notice' ? 'un aviso final' : 'un recordatorio firme'}.`,
    );
  } else if (m.overdueAmount > 0) {
    suggestedTone = level === 'MEDIUM' ? 'firm' : 'friendly';
    suggestedAction = tr(language, `Send a ${suggestedTone} reminder for ${money(m.overdueAmount)} overdue.`, `Enviar un recordatorio ${suggestedTone === 'firm' ? 'firme' : 'amable'} por ${money(m.overdueAmount)} vencidos.`);
  } else if (level !== 'LOW' && m.outstandingAmount > 0) {
    suggestedTone = 'friendly';
    suggestedAction = tr(language, 'Send a friendly reminder a few days before the next due date.', 'Enviar un recordatorio amable unos días antes del próximo vencimiento.');
  } else {
    suggestedAction = tr(language, 'No action needed; keep the usual reminders.', 'Sin acción necesaria; mantener los recordatorios habituales.');
  }
  if (m.overdueAmount > 0) {
    recommendations.push(
      tr(
        language,
        `Collect ${money(m.overdueAmount)} overdue across ${m.overdueCount} bill(s), oldest due ${formatDay(m.oldestOverdueDueDate ?? history.today, language)} (${daysOverdue} days).`,
        `Cobrar ${money(m.overdueAmount)} vencidos en ${m.overdueCount} factura(s), la más antigua del ${formatDay(m.oldestOverdueDueDate ?? history.today, language)} (${daysOverdue} días).`,
      ),
    );
  }
  if (m.overdueAmount > 0 && m.partialCount > 0) {
    recommendations.push(tr(language, 'Offer a payment plan in instalments; the family already pays in parts.', 'Ofrecer un plan de pagos en parcialidades; la familia ya paga por partes.'));
  } else if (m.overdueCount > 1) {
    recommendations.push(
      tr(language, `Offer a payment plan in instalments for the ${m.overdueCount} overdue bills.`, `Ofrecer un plan de pagos en parcialidades para las ${m.overdueCount} facturas vencidas.`),
    );
  }
  if (m.lateShare >= 0.2) {
    recommendations.push(
      tr(language, 'Send reminders 5 days before each due date and on the due date.', 'Enviar recordatorios 5 días antes de cada vencimiento y el mismo día.'),
    );
    recommendations.push(tr(language, 'Propose direct debit or card-on-file to avoid late payments.', 'Proponer domiciliación o cargo recurrente a tarjeta para evitar atrasos.'));
  }
  if (level === 'HIGH') {
    recommendations.push(tr(language, 'Review the account with the school administration this week.', 'Revisar la cuenta con la administración escolar esta semana.'));
  }
  if (recommendations.length === 0) {
    recommendations.push(tr(language, 'Good payer: no collection action needed.', 'Buen pagador: no requiere gestión de cobranza.'));
  }
  return { suggestedAction, suggestedTone, recommendations };
}
