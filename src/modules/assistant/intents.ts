import type { Language } from './format.js';

/**
 * The rule engine's question parser: keyword patterns in English and Spanish for the
 * questions a bursar asks most, with the one entity each needs (a student's name or id,
 * a school's name). Anything else is HELP: a list of what can be asked.
 */
export type Intent = 'STUDENT_BALANCE' | 'STUDENT_RISK' | 'OVERDUE_IN_SCHOOL' | 'OVERDUE_ALL' | 'TOP_DEBTORS' | 'COLLECTION_RATE' | 'COMPARE_SCHOOLS' | 'HELP';

export interface ParsedQuestion {
  intent: Intent;
  language: Language;
  /** Student name or id (STUDENT_BALANCE), school name (OVERDUE_IN_SCHOOL). */
  subject?: string;
  /** How many rows (TOP_DEBTORS), from "top 5" / "los 5". */
  limit?: number;
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;

/** Lower case without accents, for matching only. */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const SPANISH_WORDS = /\b(cuanto|cuantos|cuanta|quien|quienes|debe|deben|adeudo|saldo|vencid[oa]s?|atrasad[oa]s?|deudores|mayores|tasa|cobranza|cobro|este|mes|compara|comparar|alumn[oa]s?|estudiantes?|cual|que|de|del|los|las|el|la|en|tiene|son|es|hay|por|favor)\b/g;
const ENGLISH_WORDS = /\b(how|much|who|what|which|is|are|the|does|do|owe|owes|overdue|late|top|debtors?|collection|rate|this|month|compare|schools?|in|of|for|please|show|me|list)\b/g;

/** Spanish when the question has more Spanish than English words (or opens with ¿ / ¡); names do not count much either way. */
export function detectLanguage(message: string): Language {
  if (/^\s*[¿¡]/.test(message)) {
    return 'es';
  }
  const text = fold(message);
  const es = text.match(SPANISH_WORDS)?.length ?? 0;
  const en = text.match(ENGLISH_WORDS)?.length ?? 0;
  return es > en ? 'es' : 'en';
}

/** Trims quotes, punctuation and filler around an extracted name. */
function cleanSubject(text: string | undefined): string | undefined {
  const cleaned = text
    ?.replace(/[¿?¡!.,;:"“”'‘’]/g, ' ')
    .replace(/\b(right now|now|today|currently|in total|total|ahora|hoy|actualmente|en total|please|por favor)\b/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned && cleaned.length > 0 ? cleaned : undefined;
}

export function parseQuestion(message: string): ParsedQuestion {
  const language = detectLanguage(message);
  const text = fold(message).replace(/\s+/g, ' ').trim();
  const original = message.normalize('NFC').replace(/\s+/g, ' ').trim();
  const limitMatch = /\b(?:top|los|las|primeros|first)\s+(\d{1,2})\b/.exec(text);
  const limit = limitMatch ? Math.min(50, Math.max(1, Number(limitMatch[1]))) : undefined;

  if (/\b(compare|comparison|versus|vs\.?|compara|comparar|comparacion|comparativo)\b/.test(text) && /\b(schools?|colegios?|escuelas?|campus)\b/.test(text)) {
    return { intent: 'COMPARE_SCHOOLS', language };
  }
  if (/\b(collection rate|collected this month|recovery rate|tasa de (cobranza|cobro|recuperacion)|cobranza (de )?este mes|cuanto (se )?(cobro|cobramos|hemos cobrado))\b/.test(text)) {
    return { intent: 'COLLECTION_RATE', language };
  }
  if (/\b(top (?:\d{1,2} )?debtors?|biggest debtors?|largest debtors?|who owes (the )?most|highest balances?|(?:\d{1,2} )?mayores deudores|principales deudores|quien(es)? debe(n)? mas|top deudores|deudores)\b/.test(text)) {
    return { intent: 'TOP_DEBTORS', language, ...(limit !== undefined ? { limit } : {}) };
  }
  const riskId = UUID.exec(original)?.[0];
  if (riskId && /\b(risk|riesgo)\b/.test(text)) {
    return { intent: 'STUDENT_RISK', language, subject: riskId };
  }
  // "who is overdue in school X" / "quién está vencido en el colegio X"
  const overdueWords = /\b(overdue|late|behind|past due|vencid[oa]s?|atrasad[oa]s?|moros[oa]s?|en mora|adeudo vencido)\b/;
  if (overdueWords.test(text)) {
    const at = /\b(?:in|at|en|del|de la|de)\s+(?:the\s+|el\s+|la\s+)?(?:school\s+|colegio\s+|escuela\s+)?(.+)$/i.exec(original.replace(/[¿?¡!]/g, ''));
    const subject = cleanSubject(at?.[1]);
    if (subject && !/^(total|all|todos?|todas?|general)$/i.test(subject)) {
      return { intent: 'OVERDUE_IN_SCHOOL', language, subject };
    }
    return { intent: 'OVERDUE_ALL', language };
  }
  // "how much does X owe" / "cuánto debe X" / "balance of X" / "saldo de X"
  const id = UUID.exec(original)?.[0];
  const patterns = [
    /how much (?:does|do|is)\s+(.+?)\s+(?:owe|owing|pending|due)\b/i,
    /how much (?:is owed by|is owing by)\s+(.+)$/i,
    /(?:balance|debt|outstanding|statement)\s+(?:of|for)\s+(.+)$/i,
    /(?:what does|what is)\s+(.+?)\s+owe\b/i,
    /cu[aá]nto\s+(?:debe|adeuda|le falta pagar a|tiene pendiente)\s+(?:el alumno\s+|la alumna\s+|el estudiante\s+|la estudiante\s+)?(.+)$/i,
    /(?:saldo|adeudo|deuda|estado de cuenta)\s+(?:de|del)\s+(?:alumno\s+|alumna\s+|estudiante\s+)?(.+)$/i,
    /(.+?)\s+(?:owes|debe)\b/i,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(original.replace(/[¿?¡!]/g, ''));
    if (match) {
      const subject = id ?? cleanSubject(match[1]);
      if (subject) {
        return { intent: 'STUDENT_BALANCE', language, subject };
      }
    }
  }
  if (id) {
    return { intent: 'STUDENT_BALANCE', language, subject: id };
  }
  return { intent: 'HELP', language };
}

export function isUuid(text: string): boolean {
  return new RegExp(`^${UUID.source}$`, 'i').test(text.trim());
}
