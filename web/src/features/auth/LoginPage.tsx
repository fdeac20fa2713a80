import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { LanguageSwitch } from '../../components/LanguageSwitch';
import { Button, Field, Input } from '../../components/ui';
import { ApiError } from '../../lib/api';
import { useT } from '../../lib/i18n';
import { useLocation, useNavigate } from '../../lib/router';

export function LoginPage() {
  const { t } = useT();
  const { login } = useSession();
  const navigate = useNavigate();
  const { search } = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
      const next = new URLSearchParams(search).get('next');
      // Only same-site paths: never an open redirect.
      navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) {
        setError(t('login.wrong'));
      } else if (caught instanceof ApiError && caught.status === 429) {
        setError(t('login.tooMany'));
      } else {
        setError(caught instanceof Error ? caught.message : t('login.failed'));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="grid min-h-screen place-items-center bg-gradient-to-br from-slate-50 to-indigo-50 px-4">
      <div className="w-full max-w-sm">
        <div className="mb-4 flex justify-end">
          <LanguageSwitch className="bg-white" />
        </div>
        <div className="mb-6 flex items-center justify-center gap-2 text-xl font-semibold text-slate-900">
          <img src="/favicon.svg" alt="" className="h-9 w-9" />
          Bursar
        </div>
        <form onSubmit={(event) => void submit(event)} className="space-y-4 rounded-2xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="login-title">
          <h1 id="login-title" className="text-lg font-semibold">
            {t('login.title')}
          </h1>
          <Field label={t('login.username')}>
            <Input name="username" autoComplete="username" required autoFocus value={username} onChange={(event) => setUsername(event.target.value)} />
          </Field>
          <Field label={t('login.password')}>
            <Input name="password" type="password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.target.value)} />
          </Field>
          {error ? (
            <p role="alert" className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700">
              {error}
            </p>
          ) : null}
          <Button type="submit" variant="primary" className="w-full" disabled={busy}>
            {busy ? t('login.signingIn') : t('login.submit')}
          </Button>
        </form>
        <p className="mt-4 text-center text-xs text-slate-600">{t('login.tagline')}</p>
      </div>
    </main>
  );
}
