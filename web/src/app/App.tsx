import { useEffect, useState, type ReactNode } from 'react';
import { cx, Spinner } from '../components/ui';
import { AccountsPage } from '../features/accounts/AccountsPage';
import { AssistantPage } from '../features/assistant/AssistantPage';
import { LoginPage } from '../features/auth/LoginPage';
import { InvoicePage } from '../features/billing/InvoicePage';
import { SchoolPage } from '../features/billing/SchoolPage';
import { SchoolsPage } from '../features/billing/SchoolsPage';
import { StudentPage } from '../features/billing/StudentPage';
import { LivePage } from '../features/live/LivePage';
import { MonitoringPage } from '../features/monitoring/MonitoringPage';
import { OverviewPage } from '../features/overview/OverviewPage';
import { PendingPage } from '../features/pending/PendingPage';
import { Link, matchPath, useLocation, useNavigate } from '../lib/router';
import { ROLE_LABELS, useSession, type Me } from './session';

interface NavItem {
  to: string;
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
  { to: '/', label: 'Overview', anyOf: ['reports:read'] },
  { to: '/live', label: 'Live', anyOf: ['reports:read'] },
  { to: '/pending', label: 'Pending', anyOf: ['reports:read'] },
  { to: '/monitoring', label: 'Monitoring', anyOf: ['monitoring:read'] },
  { to: '/schools', label: 'Schools', anyOf: ['billing:read'] },
  { to: '/accounts', label: 'Accounts', anyOf: ['accounts:read'] },
  { to: '/assistant', label: 'Assistant', anyOf: ['assistant:use'] },
];

const allowed = (me: Me, item: NavItem) => item.anyOf.some((permission) => me.permissions.includes(permission));

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
  { pattern: '/accounts', nav: '/accounts', render: () => <AccountsPage /> },
  { pattern: '/assistant', nav: '/assistant', render: () => <AssistantPage /> },
];

export function App() {
  const { me, loading } = useSession();
  const { pathname } = useLocation();
  const navigate = useNavigate();

  useEffect(() => {
    if (!loading && !me && pathname !== '/login') {
      navigate(`/login${pathname !== '/' ? `?next=${encodeURIComponent(pathname)}` : ''}`, { replace: true });
    }
  }, [loading, me, pathname, navigate]);

  if (loading) {
    return (
      <div className="grid min-h-screen place-items-center">
        <Spinner label="Signing you in…" />
      </div>
    );
  }
  if (!me || pathname === '/login') {
    return <LoginPage />;
  }
  return <Shell me={me} />;
}

function Shell({ me }: { me: Me }) {
  const { logout } = useSession();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
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

  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-slate-200 bg-white/90 backdrop-blur">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-4 px-4">
          <Link to={fallback ?? '/'} className="flex items-center gap-2 font-semibold text-slate-900">
            <img src="/favicon.svg" alt="" className="h-7 w-7" />
            Bursar
          </Link>
          <nav aria-label="Main" className="hidden flex-1 md:block">
            <ul className="flex gap-1">
              {items.map((item) => (
                <li key={item.to}>
                  <NavLink item={item} active={activeNav === item.to} />
                </li>
              ))}
            </ul>
          </nav>
          <div className="ml-auto flex items-center gap-3">
            <div className="hidden text-right text-xs leading-tight sm:block" data-testid="whoami">
              <div className="font-medium text-slate-800">{me.username}</div>
              <div className="text-slate-500">
                {ROLE_LABELS[me.role]}
                {me.pii === 'masked' ? ' · names masked' : ''}
              </div>
            </div>
            <button
              type="button"
              onClick={() => void logout()}
              className="rounded-lg border border-slate-300 px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-50"
            >
              Sign out
            </button>
            <button
              type="button"
              className="rounded-lg border border-slate-300 px-2.5 py-1.5 text-sm md:hidden"
              aria-expanded={menuOpen}
              aria-controls="mobile-nav"
              onClick={() => setMenuOpen((open) => !open)}
            >
              Menu
            </button>
          </div>
        </div>
        {menuOpen ? (
          <nav id="mobile-nav" aria-label="Main (mobile)" className="border-t border-slate-200 px-4 py-2 md:hidden">
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
      <main id="main" className="mx-auto max-w-7xl px-4 py-6">
        {page ?? (items.length === 0 ? <p className="text-sm text-slate-600">Your role has no dashboard pages.</p> : <Spinner />)}
      </main>
    </div>
  );
}

function NavLink({ item, active }: { item: NavItem; active: boolean }) {
  return (
    <Link
      to={item.to}
      aria-current={active ? 'page' : undefined}
      className={cx('block rounded-lg px-3 py-1.5 text-sm font-medium', active ? 'bg-indigo-50 text-indigo-700' : 'text-slate-600 hover:bg-slate-100 hover:text-slate-900')}
    >
      {item.label}
    </Link>
  );
}
