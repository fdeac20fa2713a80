import { keepPreviousData, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';

/** The collection assistant's endpoints (src/modules/assistant/assistant.schemas.ts). */
export type Provenance = { generatedBy: 'rules' | 'llm'; fallbackReason?: 'timeout' | 'llm_error' | 'malformed_output' | 'guard_blocked' };

export interface AssistantStatus {
  provider: 'rules' | 'llm';
  model: string | null;
  baseUrlHost: string | null;
  healthy: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
  lastSuccessAt: string | null;
  rateLimitPerMinute: number;
  tools: string[];
}

export interface StudentOption {
  studentId: string;
  studentName: string;
  schoolId: string;
  schoolName: string;
  grade: string;
  currency: string;
  balance: number;
}
export interface StudentSearch {
  data: StudentOption[];
  matchedBy: 'name' | 'balance';
}

export interface RiskFactor {
  code: string;
  label: string;
  weight: number;
  points: number;
  value: number;
  detail: string;
}
export type RiskAnalysis = Provenance & {
  studentId: string;
  studentName: string;
  schoolName: string;
  currency: string;
  riskLevel: 'LOW' | 'MEDIUM' | 'HIGH';
  riskScore: number;
  riskFactors: RiskFactor[];
  recommendations: string[];
  predictedPaymentProbability: number;
  suggestedAction: string;
  suggestedTone: Tone | null;
  summary: string;
  metrics: { outstandingAmount: number; overdueAmount: number; maturedCount: number; lateCount: number; oldestOverdueDueDate: string | null };
};

export type Channel = 'email' | 'sms' | 'whatsapp';
export type Language = 'es' | 'en';
export type Tone = 'friendly' | 'firm' | 'final_notice';
export type CollectionMessage = Provenance & {
  studentId: string | null;
  channel: Channel;
  language: Language;
  tone: Tone;
  subject: string | null;
  body: string;
  characters: number;
  segments: number | null;
  smsEncoding: 'GSM-7' | 'UCS-2' | null;
  smsUnits: number | null;
  amounts: { outstanding: number; overdue: number; formattedOutstanding: string; formattedOverdue: string };
  currency: string;
  /** The student owes nothing: no message to send; `note` says so. */
  nothingToCollect: boolean;
  note: string | null;
};

export type ChatAnswer = Provenance & { answer: string; intent: string; language: Language; data: unknown; sources: string[] };

export const assistantStatusQuery = () =>
  queryOptions({
    queryKey: ['assistant', 'status'],
    queryFn: ({ signal }) => apiFetch<AssistantStatus>('/assistant/status', { signal }),
    staleTime: 30_000,
  });

export const studentSearchQuery = (q: string) =>
  queryOptions({
    queryKey: ['assistant', 'students', q],
    queryFn: ({ signal }) => apiFetch<StudentSearch>(`/assistant/students${qs({ q: q.trim() || undefined, limit: 10 })}`, { signal }),
    placeholderData: keepPreviousData,
  });

/** Risk is a POST (it may call a model and is rate limited), cached per student and language like a read. */
export const riskQuery = (studentId: string, language: Language) =>
  queryOptions({
    queryKey: ['assistant', 'risk', studentId, language],
    queryFn: ({ signal }) => apiFetch<RiskAnalysis>(`/assistant/risk/${studentId}`, { method: 'POST', body: { language }, signal }),
    staleTime: 60_000,
    retry: false,
  });

export const messageQuery = (studentId: string, options: { channel: Channel; language: Language; tone: Tone }) =>
  queryOptions({
    queryKey: ['assistant', 'message', studentId, options],
    queryFn: ({ signal }) => apiFetch<CollectionMessage>(`/assistant/collection-message/${studentId}`, { method: 'POST', body: options, signal }),
    staleTime: 60_000,
    retry: false,
  });

export const askAssistant = (message: string) => apiFetch<ChatAnswer>('/assistant/chat', { method: 'POST', body: { message } });
