import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Button, Card, EmptyState, ErrorState, Field, Input, Notice, PageHeader, Skeleton, Table, describeError, td, tdNum, th, thNum } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useT } from '../../lib/i18n';
import { useSearchParams } from '../../lib/router';
import { createEndpoint, deliveriesQuery, endpointsQuery, EVENT_TYPES, replayDelivery, sendTestEvent, type WebhookEndpoint } from './api';

/**
 * Outbound webhooks (SPEC §9): the caller's endpoints, a form to add one (its signing
 * secret shown once, right after), each endpoint's delivery log with replay, and a
 * "send test event" button. For roles with webhooks:manage (super and school admins).
 */
export function WebhooksPage() {
  const { t } = useT();
  const [params, setParams] = useSearchParams();
  const selected = params.get('endpoint') ?? '';
  const endpoints = useQuery(endpointsQuery());
  const [notice, setNotice] = useState<string | null>(null);
  const test = useMutation({ mutationFn: sendTestEvent, onSuccess: () => setNotice(t('webhooks.testSent')) });
  const chosen = endpoints.data?.data.find((endpoint) => endpoint.id === selected);

  return (
    <>
      <PageHeader title={t('webhooks.title')} subtitle={t('webhooks.subtitle')} />
      <div className="space-y-4">
        {notice ? (
          <Notice tone="success" onDismiss={() => setNotice(null)} testId="webhooks-notice">
            {notice}
          </Notice>
        ) : null}
        {test.error ? <ErrorState error={test.error} /> : null}
        <Card title={t('webhooks.endpoints')} testId="webhook-endpoints">
          {endpoints.isPending ? (
            <Skeleton />
          ) : endpoints.error ? (
            <ErrorState error={endpoints.error} onRetry={() => void endpoints.refetch()} />
          ) : endpoints.data.data.length === 0 ? (
            <EmptyState>{t('webhooks.none')}</EmptyState>
          ) : (
            <Table label={t('webhooks.endpointsTable')}>
              <table className="w-full text-sm">
                <thead>
                  <tr>
                    <th className={th} scope="col">{t('webhooks.url')}</th>
                    <th className={th} scope="col">{t('webhooks.events')}</th>
                    <th className={th} scope="col">{t('webhooks.status')}</th>
                    <th className={th} scope="col">{t('webhooks.owner')}</th>
                    <th className={th} scope="col">{t('webhooks.actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {endpoints.data.data.map((endpoint) => (
                    <EndpointRow
                      key={endpoint.id}
                      endpoint={endpoint}
                      selected={endpoint.id === selected}
                      onShow={() => setParams({ endpoint: endpoint.id })}
                      onTest={() => test.mutate(endpoint.id)}
                      testing={test.isPending && test.variables === endpoint.id}
                    />
                  ))}
                </tbody>
              </table>
            </Table>
          )}
        </Card>
        {chosen ? <Deliveries endpoint={chosen} /> : null}
        <CreateEndpoint />
      </div>
    </>
  );
}

function EndpointRow({ endpoint, selected, onShow, onTest, testing }: { endpoint: WebhookEndpoint; selected: boolean; onShow: () => void; onTest: () => void; testing: boolean }) {
  const { t } = useT();
  return (
    <tr data-testid="webhook-endpoint-row" data-row aria-selected={selected}>
      <td className={`${td} break-all font-mono text-xs`}>{endpoint.url}</td>
      <td className={`${td} text-xs`}>{endpoint.events.join(', ')}</td>
      <td className={td} data-testid="webhook-endpoint-status" title={endpoint.disabledReason ?? undefined}>
        {endpoint.enabled ? t('webhooks.enabled') : t('webhooks.disabled')}
      </td>
      <td className={td}>{endpoint.owner.username}</td>
      <td className={td}>
        <div className="flex flex-wrap gap-2">
          <Button size="sm" onClick={onShow} aria-pressed={selected}>
            {t('webhooks.showDeliveries')}
          </Button>
          <Button size="sm" onClick={onTest} busy={testing} disabled={!endpoint.enabled}>
            {t('webhooks.sendTest')}
          </Button>
        </div>
      </td>
    </tr>
  );
}

function Deliveries({ endpoint }: { endpoint: WebhookEndpoint }) {
  const { t } = useT();
  const client = useQueryClient();
  const deliveries = useQuery(deliveriesQuery(endpoint.id));
  const replay = useMutation({
    mutationFn: replayDelivery,
    onSuccess: () => client.invalidateQueries({ queryKey: ['webhook-endpoints', endpoint.id, 'deliveries'] }),
  });
  return (
    <Card title={t('webhooks.deliveries', { url: endpoint.url })} testId="webhook-deliveries">
      {replay.isSuccess ? <p className="mb-2 text-sm text-emerald-700" role="status">{t('webhooks.replayed')}</p> : null}
      {replay.error ? <ErrorState error={replay.error} /> : null}
      {deliveries.isPending ? (
        <Skeleton />
      ) : deliveries.error ? (
        <ErrorState error={deliveries.error} onRetry={() => void deliveries.refetch()} />
      ) : deliveries.data.data.length === 0 ? (
        <EmptyState>{t('webhooks.noDeliveries')}</EmptyState>
      ) : (
        <Table label={t('webhooks.deliveriesTable')}>
          <table className="w-full text-sm">
            <thead>
              <tr>
                <th className={th} scope="col">{t('webhooks.when')}</th>
                <th className={th} scope="col">{t('webhooks.event')}</th>
                <th className={th} scope="col">{t('webhooks.status')}</th>
                <th className={thNum} scope="col">{t('webhooks.attempts')}</th>
                <th className={thNum} scope="col">{t('webhooks.response')}</th>
                <th className={thNum} scope="col">{t('webhooks.latency')}</th>
                <th className={th} scope="col">{t('webhooks.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.data.map((delivery) => (
                <tr key={delivery.id} data-testid="webhook-delivery-row" data-status={delivery.status}>
                  <td className={td}>{formatDateTime(delivery.createdAt)}</td>
                  <td className={`${td} font-mono text-xs`} title={delivery.webhookId}>{delivery.eventType}</td>
                  <td className={td} data-testid="webhook-delivery-status">{t(`webhooks.${delivery.status}`)}</td>
                  <td className={tdNum}>{delivery.attempts}</td>
                  <td className={tdNum} title={delivery.lastAttempt?.error ?? undefined}>
                    {delivery.lastAttempt ? (delivery.lastAttempt.responseCode ?? t('webhooks.noResponse')) : '—'}
                  </td>
                  <td className={tdNum}>{delivery.lastAttempt ? t('webhooks.latencyMs', { ms: delivery.lastAttempt.latencyMs }) : '—'}</td>
                  <td className={td}>
                    <Button size="sm" onClick={() => replay.mutate(delivery.id)} busy={replay.isPending && replay.variables === delivery.id}>
                      {t('webhooks.replay')}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Table>
      )}
    </Card>
  );
}

function CreateEndpoint() {
  const { t } = useT();
  const client = useQueryClient();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['invoice.paid', 'payment.succeeded']);
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: createEndpoint,
    onSuccess: async (created) => {
      setSecret(created.secret);
      setUrl('');
      await client.invalidateQueries({ queryKey: ['webhook-endpoints'] });
    },
  });
  const problem = create.error ? describeError(create.error) : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (events.length > 0) {
      setSecret(null);
      create.mutate({ url, events });
    }
  };
  const toggle = (type: string) => setEvents((current) => (current.includes(type) ? current.filter((e) => e !== type) : [...current, type]));
  return (
    <Card title={t('webhooks.create')} testId="webhook-create">
      {secret ? (
        <Notice tone="success" onDismiss={() => setSecret(null)} testId="webhook-secret-notice">
          <p>{t('webhooks.created')}</p>
          <p className="mt-1">
            {t('webhooks.secret')}: <code className="break-all font-mono" data-testid="webhook-secret">{secret}</code>
          </p>
        </Notice>
      ) : null}
      <form className="max-w-2xl space-y-4" onSubmit={submit}>
        <Field label={t('webhooks.url')} hint={t('webhooks.urlHint')} error={problem ? problem.detail : null}>
          <Input name="url" type="url" required value={url} onChange={(event) => setUrl(event.target.value)} placeholder="https://example.com/bursar" />
        </Field>
        <fieldset>
          <legend className="text-sm font-medium text-slate-700">{t('webhooks.eventsLegend')}</legend>
          <div className="mt-2 grid grid-cols-1 gap-1 sm:grid-cols-3">
            {EVENT_TYPES.map((type) => (
              <label key={type} className="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" checked={events.includes(type)} onChange={() => toggle(type)} />
                <span className="font-mono text-xs">{type}</span>
              </label>
            ))}
          </div>
          {events.length === 0 ? <p className="mt-1 text-sm text-rose-700">{t('webhooks.pickEvents')}</p> : null}
        </fieldset>
        <Button type="submit" variant="primary" busy={create.isPending} disabled={events.length === 0}>
          {t('webhooks.add')}
        </Button>
      </form>
    </Card>
  );
}
