import { useQuery } from '@tanstack/react-query';
import { Card, Field, PageHeader, Select } from '../../components/ui';
import { useSearchParams } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { OutboxMessages } from './Messages';

/**
 * The outbox (SPEC §8): reminders whose channel is not configured wait here, newest
 * first, so nothing is lost and a person can read or forward them. Configure SMTP_URL
 * (and SMS_PROVIDER_URL, WHATSAPP_PROVIDER_URL) to send them instead.
 */
export function OutboxPage() {
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? '';
  const schools = useQuery(schoolOptionsQuery());
  return (
    <>
      <PageHeader
        title="Outbox"
        subtitle="Reminders that no mail or SMS server has sent: with no channel configured, messages wait here so none is lost."
      />
      <div className="max-w-3xl space-y-4">
        <Field label="School">
          <Select name="schoolId" value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value })}>
            <option value="">All my schools</option>
            {(schools.data ?? []).map((school) => (
              <option key={school.id} value={school.id}>
                {school.name}
              </option>
            ))}
          </Select>
        </Field>
        <Card title="Waiting in the outbox" testId="outbox">
          <OutboxMessages schoolId={schoolId} />
        </Card>
      </div>
    </>
  );
}
