import { isValidElement, lazy, Suspense, useEffect, useRef, useState, type ComponentType, type ReactNode } from 'react';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { cx, Spinner } from '../components/ui';
import { LoginPage } from '../features/auth/LoginPage';
import { useLanguage, useT } from '../lib/i18n';
import { Link, matchPath, useLocation, useNavigate } from '../lib/router';
import { useRouteFocus } from './route-focus';
import { useSession, type Me } from './session';

interface NavItem {
  to: string;
  /** Its name under `nav.` in lib/strings. */
  label: string;
  /** The caller needs one of these permissions (mirrors the server's route policies). */
  anyOf: string[];
}

/**
 * Navigation, filtered by the permissions GET /auth/me reports. Live needs
 * `reports:read` like its endpoints (analytics and the /live socket), so the developer
 * does not get it.
 */
export const NAV: NavItem[] = [
  { to: '/', label: 'overview', anyOf: ['reports:read'] },
  { to: '/live', label: 'live', anyOf: ['reports:read'] },
  { to: '/pending', label: 'pending', anyOf: ['reports:read'] },
  { to: '/monitoring', label: 'monitoring', anyOf: ['monitoring:read'] },
  { to: '/schools', label: 'schools', anyOf: ['billing:read'] },
  { to: '/families', label: 'families', anyOf: ['billing:read'] },
  { to: '/fee-plans', label: 'feePlans', anyOf: ['billing:read'] },
  { to: '/bill-runs', label: 'billRuns', anyOf: ['billing:read'] },
  { to: '/outbox', label: 'outbox', anyOf: ['billing:read'] },
  { to: '/accounts', label: 'accounts', anyOf: ['accounts:read'] },
  { to: '/reconciliation', label: 'reconciliation', anyOf: ['reconciliation:use'] },
  { to: '/webhooks', label: 'webhooks', anyOf: ['webhooks:manage'] },
  { to: '/assistant', label: 'assistant', anyOf: ['assistant:use'] },
];

const allowed = (me: Me, item: NavItem) => item.anyOf.some((permission) => me.permissions.includes(permission));

/**
 * A page loaded when first shown (React.lazy): its own chunk, so the login page carries
 * no charts and each page only what it uses. `preload` fetches the chunk ahead of that.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- React.lazy's own bound: any props
function page<C extends ComponentType<any>>(load: () => Promise<C>) {
  return Object.assign(
    lazy(() => load().then((component) => ({ default: component }))),
    { preload: load },
  );
}
const AccountsPage = page(() => import('../features/accounts/AccountsPage').then((m) => m.AccountsPage));
const WebhooksPage = page(() => import('../features/webhooks/WebhooksPage').then((m) => m.WebhooksPage));
const AssistantPage = page(() => import('../features/assistant/AssistantPage').then((m) => m.AssistantPage));
const FamiliesPage = page(() => import('../features/families/FamiliesPage').then((m) => m.FamiliesPage));
const FamilyPage = page(() => import('../features/families/FamilyPage').then((m) => m.FamilyPage));
const FeePlansPage = page(() => import('../features/feeplans/FeePlansPage').then((m) => m.FeePlansPage));
const BillRunsPage = page(() => import('../features/billruns/BillRunsPage').then((m) => m.BillRunsPage));
const InvoicePage = page(() => import('../features/billing/InvoicePage').then((m) => m.InvoicePage));
const SchoolPage = page(() => import('../features/billing/SchoolPage').then((m) => m.SchoolPage));
const SchoolsPage = page(() => import('../features/billing/SchoolsPage').then((m) => m.SchoolsPage));
const StudentPage = page(() => import('../features/billing/StudentPage').then((m) => m.StudentPage));
const LivePage = page(() => import('../features/live/LivePage').then((m) => m.LivePage));
const MonitoringPage = page(() => import('../features/monitoring/MonitoringPage').then((m) => m.MonitoringPage));
const OverviewPage = page(() => import('../features/overview/OverviewPage').then((m) => m.OverviewPage));
const OutboxPage = page(() => import('../features/collections/OutboxPage').then((m) => m.OutboxPage));
const PortalApp = page(() => import('../features/portal/PortalApp').then((m) => m.PortalApp));
const ReconciliationPage = page(() => import('../features/reconciliation/ReconciliationPage').then((m) => m.ReconciliationPage));
const PendingPage = page(() => import('../features/pending/PendingPage').then((m) => m.PendingPage));

interface Route {
  pattern: string;
  nav: string;
  render: (params: Record<string, string>) => ReactNode;
}
const ROUTES: Route[] = [
  { pattern: '/', nav: '/', render: () => <OverviewPage /> },
  { pattern: '/live', nav: '/live', render: () => <LivePage /> },
  { pattern: '/pending', nav: '/pending', render: () => <PendingPage /> },
  { pattern: '/monitoring', nav: '/monitoring', render: () => <MonitoringPage /> },
  { pattern: '/schools', nav: '/schools', render: () => <SchoolsPage /> },
  { pattern: '/schools/:id', nav: '/schools', render: (p) => <SchoolPage schoolId={p.id ?? ''} /> },
  { pattern: '/students/:id', nav: '/schools', render: (p) => <StudentPage studentId={p.id ?? ''} /> },
  { pattern: '/invoices/:id', nav: '/schools', render: (p) => <InvoicePage invoiceId={p.id ?? ''} /> },
  { pattern: '/families', nav: '/families', render: () => <FamiliesPage /> },
  { pattern: '/families/:id', nav: '/families', render: (p) => <FamilyPage familyId={p.id ?? ''} /> },
  { pattern: '/fee-plans', nav: '/fee-plans', render: () => <FeePlansPage /> },
  { pattern: '/bill-runs', nav: '/bill-runs', render: () => <BillRunsPage /> },
  { pattern: '/outbox', nav: '/outbox', render: () => <OutboxPage /> },
  { pattern: '/accounts', nav: '/accounts', render: () => <AccountsPage /> },
  { pattern: '/reconciliation', nav: '/reconciliation', render: () => <ReconciliationPage /> },
  { pattern: '/webhooks', nav: '/webhooks', render: () => <WebhooksPage /> },
  { pattern: '/assistant', nav: '/assistant', render: () => <AssistantPage /> },
];

/**
 * Starts fetching the chunk of the page at `pathname` (the page element its route renders),
 * so that it downloads while GET /auth/me is on its way instead of after it.
 */
function preloadPage(pathname: string) {
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, pathname);
    if (params) {
      const element = route.render(params);
      if (isValidElement(element)) {
        void (element.type as { preload?: () => Promise<unknown> }).preload?.();
      }
      return;
    }
  }
}

export function App() {
  const { pathname } = useLocation();
  // The family portal and pay links have their own layout, languages and sign-in (features/portal).
  if (pathname === '/portal' || pathname.startsWith('/portal/') || pathname.startsWith('/pay/')) {
    return (
      <Suspense fallback={<Spinner />}>
        <PortalApp />
      </Suspense>
    );
  }
  return <Dashboard />;
}

function Dashboard() {
  const { t } = useT();
  const language = useLanguage();
  // <html lang> follows the choice: screen readers, hyphenation, the date inputs' format.
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const { me, loading } = useSession();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  useRouteFocus(pathname, language);

  useEffect(() => {
    if (loading) {
      preloadPage(pathname);
    }
  }, [loading, pathname]);

  useEffect(() => {
    // A guardian user has no dashboard: their place is the portal.
    if (!loading && me?.role === 'guardian') {
      navigate('/portal', { replace: true });
      return;
    }
    if (!loading && !me && pathname !== '/login') {
      navigate(`/login${pathname !== '/' ? `?next=${encodeURIComponent(pathname)}` : ''}`, { replace: true });
    }
  }, [loading, me, pathname, navigate]);

  if (loading) {
    return (
      <div className="grid min-h-screen place-items-center">
        <Spinner label={t('app.signingIn')} />
      </div>
    );
  }
  if (!me || pathname === '/login') {
    return <LoginPage />;
  }
  return <Shell me={me} />;
}

function Shell({ me }: { me: Me }) {
  const { t } = useT();
  const { logout } = useSession();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const items = NAV.filter((item) => allowed(me, item));

  let page: ReactNode = null;
  let activeNav = '';
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, pathname);
    if (params) {
      const item = NAV.find((candidate) => candidate.to === route.nav);
      if (item && !allowed(me, item)) {
        break;
      }
      page = route.render(params);
      activeNav = route.nav;
      break;
    }
  }

  // A page this role may not use (or an unknown path): go to its home — the Overview,
  // else Monitoring (the developer's page), else whatever it may use.
  const fallback = (items.find((item) => item.to === '/') ?? items.find((item) => item.to === '/monitoring') ?? items[0])?.to;
  useEffect(() => {
    if (page === null && fallback && fallback !== pathname) {
      navigate(fallback, { replace: true });
    }
  }, [page, fallback, pathname, navigate]);

  useEffect(() => setMenuOpen(false), [pathname]);

  // Escape closes the phone menu and gives focus back to its button.
  useEffect(() => {
    if (!menuOpen) {
      return;
    }
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        setMenuOpen(false);
        menuButton.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [menuOpen]);

  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        {t('app.skip')}
      </a>
      <header className="sticky top-0 z-30 border-b border-slate-200 bg-white/90 backdrop-blur">
        <div className="mx-auto flex min-h-14 max-w-7xl items-center gap-4 px-4 py-2">
          <Link to={fallback ?? '/'} className="flex shrink-0 items-center gap-2 font-semibold text-slate-900">
            <img src="/favicon.svg" alt="" className="h-7 w-7" />
            <span className="max-[429px]:sr-only">Bursar</span>
          </Link>
          <nav aria-label={t('app.mainNav')} className="hidden min-w-0 flex-1 md:block">
            {/* Wraps to a second line rather than widen the page when the labels (Spanish, a narrow window) do not fit. */}
            <ul className="flex flex-wrap gap-1">
              {items.map((item) => (
                <li key={item.to}>
                  <NavLink item={item} active={activeNav === item.to} />
                </li>
              ))}
            </ul>
          </nav>
          <div className="ml-auto flex items-center gap-2 sm:gap-3">
            <div className="hidden text-right text-xs leading-tight sm:block" data-testid="whoami">
              <div className="font-medium text-slate-800">{me.username}</div>
              <div className="text-slate-600">
                {t(`role.${me.role}`)}
                {me.pii === 'masked' ? ` · ${t('app.namesMasked')}` : ''}
              </div>
            </div>
            <LanguageSwitch />
            <button
              type="button"
              onClick={() => void logout()}
              className="whitespace-nowrap rounded-lg border border-slate-300 px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-50"
            >
              {t('app.signOut')}
            </button>
            <button
              ref={menuButton}
              type="button"
              className="rounded-lg border border-slate-300 px-2.5 py-1.5 text-sm text-slate-700 md:hidden"
              aria-expanded={menuOpen}
              aria-controls="mobile-nav"
              onClick={() => setMenuOpen((open) => !open)}
            >
              {t('app.menu')}
            </button>
          </div>
        </div>
        {menuOpen ? (
          <nav id="mobile-nav" aria-label={t('app.mobileNav')} className="border-t border-slate-200 px-4 py-2 md:hidden">
            <ul className="flex flex-col gap-1">
              {items.map((item) => (
                <li key={item.to}>
                  <NavLink item={item} active={activeNav === item.to} />
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
      </header>
      <main id="main" tabIndex={-1} className="mx-auto max-w-7xl px-4 py-6 focus:outline-none">
        <Suspense fallback={<Spinner />}>{page ?? (items.length === 0 ? <p className="text-sm text-slate-600">{t('app.noPages')}</p> : <Spinner />)}</Suspense>
      </main>
    </div>
  );
}

function NavLink({ item, active }: { item: NavItem; active: boolean }) {
  const { t } = useT();
  return (
    <Link
      to={item.to}
      aria-current={active ? 'page' : undefined}
      className={cx('block whitespace-nowrap rounded-lg px-2.5 py-1.5 text-sm font-medium', active ? 'bg-indigo-50 text-indigo-700' : 'text-slate-700 hover:bg-slate-100 hover:text-slate-900')}
    >
      {t(`nav.${item.label}`)}
    </Link>
  );
}
