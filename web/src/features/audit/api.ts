import { infiniteQueryOptions } from '@tanstack/react-query';
import { apiFetch } from '../../lib/api';

/** One entry of the audit log (SPEC §9, GET /audit). */
export interface AuditEntry {
  id: string;
  action: string;
  entityType: string;
  entityId: string | null;
  schoolId: string | null;
  actor: { userId: string | null; username: string | null };
  requestId: string | null;
  changes: Record<string, unknown> | null;
  createdAt: string;
}
interface AuditPage {
  data: AuditEntry[];
  nextCursor: string | null;
}

export type AuditedEntity = 'school' | 'student' | 'family' | 'invoice';

/** One thing's history, newest first, 20 entries a page. */
export const historyQuery = (entityType: AuditedEntity, entityId: string) =>
  infiniteQueryOptions({
    queryKey: ['audit', entityType, entityId],
    queryFn: ({ signal, pageParam }) =>
      apiFetch<AuditPage>(`/audit?entityType=${entityType}&entityId=${entityId}&limit=20${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
