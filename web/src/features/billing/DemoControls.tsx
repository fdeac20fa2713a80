import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useSession } from '../../app/session';
import { cx } from '../../components/ui';
import { apiFetch, ApiError } from '../../lib/api';
import type { School } from './api';
import { useT } from '../../lib/i18n';

/**
 * The demo's marks on the Schools pages: a "Demo" badge on schools created by the demo
 * seed (the only ones the demo simulator acts on), and on a demo school's page the badge
 * with the switch for its simulated traffic (PATCH /schools/:id {simulatorEnabled}; billing:write, so a
 * school_admin for their schools and a super_admin). Kept out of the pages themselves so
 * they carry one line each.
 */
export function DemoBadge({ school }: { school: Pick<School, 'isDemo'> | undefined }) {
  const { t } = useT();
  if (!school?.isDemo) {
    return null;
  }
  return (
    <span
      className="ml-2 inline-flex items-center rounded-md bg-amber-50 px-1.5 py-0.5 align-middle text-xs font-medium text-amber-800 ring-1 ring-inset ring-amber-600/30"
      title={t('demo.badgeTitle')}
      data-testid="demo-badge"
    >
      {t('demo.badge')}
    </span>
  );
}

/** PATCH /schools/:id {simulatorEnabled}: the answer is the school as it is now. */
export const setSimulatorEnabled = (schoolId: string, simulatorEnabled: boolean) =>
  apiFetch<School>(`/schools/${schoolId}`, { method: 'PATCH', body: { simulatorEnabled } });

/** A demo school's page: the badge and the simulated-traffic switch (nothing for any other school). */
export function DemoSchoolControls({ school }: { school: School | undefined }) {
  const { t } = useT();
  const { can } = useSession();
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: (enabled: boolean) => setSimulatorEnabled(school?.id ?? '', enabled),
    onSuccess: (updated) => {
      // The answer is the school as it is now: shown at once, and the switch takes input
      // again at once; the lists refresh behind it.
      queryClient.setQueryData(['schools', updated.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['schools'] });
    },
  });
  if (!school?.isDemo) {
    return null;
  }
  const on = school.simulatorEnabled;
  const mayChange = can('billing:write');
  const error = mutation.error instanceof ApiError ? mutation.error.message : mutation.error ? t('demo.saveFailed') : null;
  return (
    <div className="flex flex-wrap items-center gap-3 rounded-xl border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-900" data-testid="simulator-controls">
      <DemoBadge school={school} />
      <span id="simulator-label" className="font-medium">
        {t('demo.traffic')}
      </span>
      <button
        type="button"
        role="switch"
        aria-checked={on}
        aria-labelledby="simulator-label"
        aria-describedby="simulator-hint"
        disabled={!mayChange || mutation.isPending}
        onClick={() => mutation.mutate(!on)}
        className={cx(
          'relative inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60',
          on ? 'bg-indigo-600' : 'bg-slate-400',
        )}
        data-testid="simulator-toggle"
      >
        <span aria-hidden="true" className={cx('inline-block h-5 w-5 rounded-full bg-white shadow transition-transform', on ? 'translate-x-5' : 'translate-x-0.5')} />
      </button>
      <span className="font-semibold" data-testid="simulator-state">
        {on ? t('demo.on') : t('demo.off')}
      </span>
      <span id="simulator-hint" className="min-w-0 basis-full text-xs text-amber-800 sm:basis-auto">
        {on ? t('demo.onHint') : t('demo.offHint')}
        {mayChange ? '' : t('demo.mayNot')}
      </span>
      {error ? (
        <span role="alert" className="basis-full text-xs text-rose-700">
          {error}
        </span>
      ) : null}
    </div>
  );
}
