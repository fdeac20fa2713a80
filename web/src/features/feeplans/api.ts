import { queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';
import type { Page } from '../billing/api';

/** Fee plan API shapes (src/modules/feeplans/feeplans.schemas.ts). */
export type Schedule = { kind: 'once'; dueDate: string } | { kind: 'monthly'; firstDue: string; count: number } | { kind: 'termly' | 'custom'; dueDates: string[] };
export interface FeePlanItemInput {
  code: string;
  description: string;
  amount: number;
  optional?: boolean;
  schedule: Schedule;
}
/** Pronto pago terms: percent (a number of percent) or fixed (minor units per instalment), earned by due date + byDay. */
export interface EarlyPaymentTerms {
  basis: 'percent' | 'fixed';
  value: number;
  byDay: number;
}
export interface FeePlan {
  id: string;
  schoolId: string;
  name: string;
  academicYear: string;
  yearStart: string;
  yearEnd: string;
  earlyPayment?: EarlyPaymentTerms | null;
  items: (Required<Omit<FeePlanItemInput, 'schedule'>> & { schedule: Schedule; dueDates: string[]; earlyPayment?: EarlyPaymentTerms | null })[];
}
export interface CreateFeePlanInput {
  schoolId: string;
  name: string;
  academicYear: string;
  yearStart: string;
  yearEnd: string;
  items: FeePlanItemInput[];
}

export const feePlansQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['fee-plans', schoolId],
    queryFn: ({ signal }) => apiFetch<Page<FeePlan>>(`/fee-plans${qs({ schoolId, limit: 100 })}`, { signal }),
    enabled: schoolId !== '',
  });
export const createFeePlan = (input: CreateFeePlanInput) => apiFetch<FeePlan>('/fee-plans', { method: 'POST', body: input });
export const enrolGrade = ({ planId, grade, from }: { planId: string; grade: string; from: string }) =>
  apiFetch<{ enrolled: number; skipped: number }>(`/fee-plans/${planId}/enrolments`, { method: 'POST', body: { grade, from } });
/** PATCH /fee-plans/:id {name}: renaming never touches what is billed. */
export const renameFeePlan = ({ planId, name }: { planId: string; name: string }) => apiFetch<FeePlan>(`/fee-plans/${planId}`, { method: 'PATCH', body: { name } });
