import { useQuery } from '@tanstack/react-query';
import { Card, Field, PageHeader, Select } from '../../components/ui';
import { useSearchParams } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { OutboxMessages } from './Messages';
import { useT } from '../../lib/i18n';

/**
 * The outbox (SPEC §8): reminders whose channel is not configured wait here, newest
 * first, so nothing is lost and a person can read or forward them. Configure SMTP_URL
 * (and SMS_PROVIDER_URL, WHATSAPP_PROVIDER_URL) to send them instead.
 */
export function OutboxPage() {
  const { t } = useT();
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? '';
  const schools = useQuery(schoolOptionsQuery());
  return (
    <>
      <PageHeader
        title={t('outbox.title')}
        subtitle={t('outbox.subtitle')}
      />
      <div className="max-w-3xl space-y-4">
        <Field label={t('outbox.school')}>
          <Select name="schoolId" value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value })}>
            <option value="">{t('outbox.allSchools')}</option>
            {(schools.data ?? []).map((school) => (
              <option key={school.id} value={school.id}>
                {school.name}
              </option>
            ))}
          </Select>
        </Field>
        <Card title={t('outbox.waiting')} testId="outbox">
          <OutboxMessages schoolId={schoolId} />
        </Card>
      </div>
    </>
  );
}
