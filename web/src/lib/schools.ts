import { queryOptions } from '@tanstack/react-query';
import { apiFetch } from './api';

/** The schools the caller may see, for filter pickers (first 500; the API's maximum page). */
export interface SchoolOption {
  id: string;
  name: string;
  currency: string;
}

export const schoolOptionsQuery = () =>
  queryOptions({
    queryKey: ['schools', 'options'],
    queryFn: ({ signal }) => apiFetch<{ data: SchoolOption[] }>('/schools?limit=500', { signal }).then((page) => page.data),
    staleTime: 5 * 60_000,
  });
