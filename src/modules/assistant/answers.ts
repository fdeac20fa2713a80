import { formatDay, type Language } from './format.js';
import type { Intent } from './intents.js';
import type { AssistantTools } from './tools.js';

/**
 * The rule engine's answers to chat questions: sentences written from the tool results
 * (already scoped and masked), in the question's language.
 */
type Result<K extends keyof AssistantTools> = AssistantTools[K] extends (...args: never[]) => Promise<infer R> ? R : never;

const tr = (language: Language, en: string, es: string) => (language === 'es' ? es : en);
const pct = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);

export function helpAnswer(language: Language, masked: boolean): string {
  const lines =
    language === 'es'
      ? [
          'Puedo responder preguntas como:',
          masked ? '- ¿Cuánto debe el alumno <id>? (su rol ve los nombres enmascarados: pregunte por id)' : '- ¿Cuánto debe Ana Pérez?',
          '- ¿Quién tiene pagos vencidos en el colegio <nombre>?',
          '- ¿Quiénes son los mayores deudores?',
          '- ¿Cuál es la tasa de cobranza de este mes?',
          '- Compara los colegios',
        ]
      : [
          'I can answer questions like:',
          masked ? '- How much does student <id> owe? (your role sees names masked: ask by id)' : '- How much does Ana Perez owe?',
          '- Who is overdue in school <name>?',
          '- Who are the top debtors?',
          '- What is the collection rate this month?',
          '- Compare schools',
        ];
  return lines.join('\n');
}

/** That a student owes nothing, for the chat and for a collection message with nothing to collect. */
export function owesNothingAnswer(language: Language, studentName: string, schoolName: string): string {
  return tr(language, `${studentName} (${schoolName}) owes nothing: no open bills.`, `${studentName} (${schoolName}) no debe nada: no tiene facturas pendientes.`);
}

export function studentBalanceAnswer(language: Language, result: Result<'studentBalance'>): string {
  if (!result.found) {
    switch (result.reason) {
      case 'names_masked':
        return tr(
          language,
          'Your role sees student names masked, so I cannot look students up by name. Ask with the student id (e.g. from the top debtors list).',
          'Su rol ve los nombres de alumnos enmascarados, así que no puedo buscarlos por nombre. Pregunte con el id del alumno (por ejemplo, de la lista de mayores deudores).',
        );
      case 'ambiguous':
        return tr(
          language,
          `Several students match "${result.query}": ${result.candidates.map((c) => `${c.studentName} (${c.schoolName})`).join('; ')}. Which one?`,
          `Varios alumnos coinciden con "${result.query}": ${result.candidates.map((c) => `${c.studentName} (${c.schoolName})`).join('; ')}. ¿Cuál de ellos?`,
        );
      case 'not_found':
        return tr(language, 'I found no such student among the schools you can see.', 'No encontré ese alumno en los colegios que usted puede ver.');
    }
  }
  const { student } = result;
  if (result.outstanding === 0) {
    return owesNothingAnswer(language, student.studentName, student.schoolName);
  }
  const overdue =
    result.overdue > 0
      ? tr(
          language,
          `, of which ${result.overdueFormatted} is overdue since ${formatDay(result.oldestOverdueDueDate ?? '', language)}`,
          `, de los cuales ${result.overdueFormatted} están vencidos desde el ${formatDay(result.oldestOverdueDueDate ?? '', language)}`,
        )
      : tr(language, ', nothing overdue', ', nada vencido');
  return tr(
    language,
    `${student.studentName} (${student.schoolName}) owes ${result.outstandingFormatted} in ${result.openBillCount} open bill(s)${overdue}.`,
    `${student.studentName} (${student.schoolName}) debe ${result.outstandingFormatted} en ${result.openBillCount} factura(s) pendiente(s)${overdue}.`,
  );
}

export function overdueInSchoolAnswer(language: Language, result: Result<'overdueInSchool'>): string {
  if (!result.found) {
    return tr(language, `I found no school by that name among the schools you can see.`, `No encontré un colegio con ese nombre entre los que usted puede ver.`);
  }
  if (result.studentCount === 0) {
    return tr(language, `Nobody is overdue in ${result.schoolName}.`, `Nadie tiene pagos vencidos en ${result.schoolName}.`);
  }
  const list = result.students.map((s) => `- ${s.studentName} (${tr(language, 'grade', 'grado')} ${s.grade}): ${s.overdueFormatted}, ${tr(language, 'since', 'desde')} ${formatDay(s.oldestOverdueDueDate ?? '', language)}`);
  return [
    tr(
      language,
      `${result.studentCount} student(s) are overdue in ${result.schoolName}, ${result.overdueFormatted} in ${result.overdueBills} bill(s)${result.studentCount > result.students.length ? `; the ${result.students.length} largest` : ''}:`,
      `${result.studentCount} alumno(s) tienen pagos vencidos en ${result.schoolName}, ${result.overdueFormatted} en ${result.overdueBills} factura(s)${result.studentCount > result.students.length ? `; los ${result.students.length} mayores` : ''}:`,
    ),
    ...list,
  ].join('\n');
}

export function overdueSummaryAnswer(language: Language, result: Result<'overdueSummary'>): string {
  const totals = result.totalsByCurrency.filter((row) => row.amountOverdue > 0);
  if (totals.length === 0) {
    return tr(language, 'Nothing is overdue in the schools you can see.', 'No hay nada vencido en los colegios que usted puede ver.');
  }
  return [
    tr(language, `Overdue: ${totals.map((row) => row.amountOverdueFormatted).join(' + ')}.`, `Vencido: ${totals.map((row) => row.amountOverdueFormatted).join(' + ')}.`),
    tr(language, 'Schools with the most overdue:', 'Colegios con más saldo vencido:'),
    ...result.schools.slice(0, 5).map((row) => `- ${row.schoolName}: ${row.amountOverdueFormatted}`),
    ...(result.students.length > 0 ? [tr(language, 'Students with the most overdue:', 'Alumnos con más saldo vencido:'), ...result.students.map((s) => `- ${s.studentName} (${s.schoolName}): ${s.overdueFormatted}`)] : []),
  ].join('\n');
}

export function topDebtorsAnswer(language: Language, result: Result<'topDebtors'>): string {
  if (!result.found) {
    return tr(language, `I found no school by that name among the schools you can see.`, `No encontré un colegio con ese nombre entre los que usted puede ver.`);
  }
  if (result.debtors.length === 0) {
    return tr(language, 'Nobody owes anything in the schools you can see.', 'Nadie tiene saldo pendiente en los colegios que usted puede ver.');
  }
  const currencies = [...new Set(result.debtors.map((row) => row.currency))];
  const lines: string[] = [
    tr(
      language,
      `Top ${result.limit} debtors${result.schoolName ? ` in ${result.schoolName}` : ''}${currencies.length > 1 ? ' per currency' : ''}:`,
      `Los ${result.limit} mayores deudores${result.schoolName ? ` de ${result.schoolName}` : ''}${currencies.length > 1 ? ' por moneda' : ''}:`,
    ),
  ];
  for (const currency of currencies) {
    if (currencies.length > 1) {
      lines.push(`${currency}:`);
    }
    result.debtors
      .filter((row) => row.currency === currency)
      .forEach((row, index) => {
        lines.push(
          `${index + 1}. ${row.studentName} (${row.schoolName}): ${row.balanceFormatted}` +
            (row.overdue > 0 ? tr(language, `, ${row.overdueFormatted} overdue`, `, ${row.overdueFormatted} vencido`) : ''),
        );
      });
  }
  return lines.join('\n');
}

export function collectionRateAnswer(language: Language, result: Result<'collectionRate'>): string {
  if (result.byCurrency.length === 0) {
    return tr(language, 'You cannot see any school yet.', 'Aún no puede ver ningún colegio.');
  }
  const lines = result.byCurrency.map((row) =>
    row.amountDue === 0
      ? tr(language, `${row.currency}: nothing due in ${result.month}; ${row.amountCollectedFormatted} collected.`, `${row.currency}: nada vence en ${result.month}; se cobraron ${row.amountCollectedFormatted}.`)
      : tr(
          language,
          `${row.currency}: ${pct(row.collectionRate)} of the ${row.amountDueFormatted} due in ${result.month} is paid; ${row.amountCollectedFormatted} collected in the month.`,
          `${row.currency}: está pagado el ${pct(row.collectionRate)} de los ${row.amountDueFormatted} que vencen en ${result.month}; se cobraron ${row.amountCollectedFormatted} en el mes.`,
        ),
  );
  return [tr(language, `Collection rate, ${result.month}:`, `Tasa de cobranza, ${result.month}:`), ...lines].join('\n');
}

export function compareSchoolsAnswer(language: Language, result: Result<'compareSchools'>): string {
  if (result.schools.length === 0) {
    return tr(language, 'You cannot see any school yet.', 'Aún no puede ver ningún colegio.');
  }
  const shown = result.schools.slice(0, 10);
  return [
    tr(language, `Schools by collection rate (paid / invoiced), best first${result.schools.length > shown.length ? `, top ${shown.length} of ${result.schools.length}` : ''}:`, `Colegios por tasa de cobranza (pagado / facturado), de mejor a peor${result.schools.length > shown.length ? `, ${shown.length} de ${result.schools.length}` : ''}:`),
    ...shown.map((s, index) =>
      tr(
        language,
        `${index + 1}. ${s.schoolName}: ${pct(s.collectionRate)}, pending ${s.totalPendingFormatted}, overdue ${s.totalOverdueFormatted}`,
        `${index + 1}. ${s.schoolName}: ${pct(s.collectionRate)}, pendiente ${s.totalPendingFormatted}, vencido ${s.totalOverdueFormatted}`,
      ),
    ),
  ].join('\n');
}

export const INTENT_OF_TOOL: Record<string, Intent> = {
  get_student_balance: 'STUDENT_BALANCE',
  find_students: 'STUDENT_BALANCE',
  overdue_in_school: 'OVERDUE_IN_SCHOOL',
  overdue_summary: 'OVERDUE_ALL',
  top_debtors: 'TOP_DEBTORS',
  collection_rate: 'COLLECTION_RATE',
  compare_schools: 'COMPARE_SCHOOLS',
  risk_for_student: 'STUDENT_RISK',
};
