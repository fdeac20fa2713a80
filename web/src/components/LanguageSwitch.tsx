import { cx } from './ui';
import { LANGUAGES, useT } from '../lib/i18n';

/**
 * Español / English, as two pressed-or-not buttons ("ES", "EN", each named in its own
 * language for screen readers). The choice is remembered by the language detector
 * (localStorage `bursar.lang`) and re-renders every page that uses `useT` at once.
 */
export function LanguageSwitch({ className }: { className?: string }) {
  const { t, i18n } = useT();
  const current = i18n.resolvedLanguage === 'en' ? 'en' : 'es';
  return (
    <div role="group" aria-label={t('app.language')} className={cx('flex shrink-0 rounded-lg border border-slate-300 text-sm', className)} data-testid="language-switch">
      {LANGUAGES.map((code) => (
        <button
          key={code}
          type="button"
          lang={code}
          aria-pressed={current === code}
          onClick={() => void i18n.changeLanguage(code)}
          className={cx('px-2 py-1.5 font-medium first:rounded-l-lg last:rounded-r-lg', current === code ? 'bg-indigo-600 text-white' : 'text-slate-700 hover:bg-slate-100')}
        >
          {code.toUpperCase()}
          <span className="sr-only"> {t(`app.languages.${code}`)}</span>
        </button>
      ))}
    </div>
  );
}
