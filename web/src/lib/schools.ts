import { queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from './api';

/** The schools the caller may see, for filter pickers (first 500; the API's maximum page). */
export interface SchoolOption {
  id: string;
  name: string;
  currency: string;
  /** IANA zone: times about this school are shown in it. */
  timezone: string;
}

export const schoolOptionsQuery = () =>
  queryOptions({
    queryKey: ['schools', 'options'],
    queryFn: ({ signal }) => apiFetch<{ data: SchoolOption[] }>('/schools?limit=500', { signal }).then((page) => page.data),
    staleTime: 5 * 60_000,
  });

/**
 * GET /reports/grades: the grades that exist among the students of the schools in view
 * (one school, or every school the caller may see), for the Grade filters — a choice
 * of what exists instead of free text that silently matches nothing.
 */
export interface GradeOptions {
  data: string[];
  truncated: boolean;
}

export const gradeOptionsQuery = (schoolId: string | undefined) =>
  queryOptions({
    queryKey: ['reports', 'grades', schoolId ?? ''],
    queryFn: ({ signal }) => apiFetch<GradeOptions>(`/reports/grades${qs({ schoolId })}`, { signal }),
    staleTime: 5 * 60_000,
  });
