import { useEffect, useLayoutEffect, useRef } from 'react';
import { translate } from '../lib/i18n';
import { matchPath } from '../lib/router';

/**
 * Titles of the routes, for the tab and for screen readers, set the moment the path
 * changes; a page's own PageHeader then refines it once its data is in ("Invoice
 * CMF-202608-0001 · Bursar"). Kept beside the route table rather than in it.
 */
const ROUTE_TITLES: [pattern: string, title: string][] = [
  ['/', 'overview'],
  ['/live', 'live'],
  ['/pending', 'pending'],
  ['/monitoring', 'monitoring'],
  ['/schools', 'schools'],
  ['/schools/:id', 'school'],
  ['/students/:id', 'student'],
  ['/invoices/:id', 'invoice'],
  ['/families', 'families'],
  ['/families/:id', 'family'],
  ['/fee-plans', 'feePlans'],
  ['/bill-runs', 'billRuns'],
  ['/outbox', 'outbox'],
  ['/accounts', 'accounts'],
  ['/webhooks', 'webhooks'],
  ['/assistant', 'assistant'],
  ['/reconciliation', 'reconciliation'],
  ['/login', 'login'],
];

/** The route's title in the current language (`routes.` in lib/strings), or "Bursar". */
export function routeTitle(pathname: string): string {
  const key = ROUTE_TITLES.find(([pattern]) => matchPath(pattern, pathname) !== null)?.[1];
  return key ? translate(`routes.${key}`) : 'Bursar';
}

/** How long a new page may take to show its heading before focus stops waiting for it. */
const HEADING_WAIT_MS = 10_000;

/**
 * On every change of path (not of query string: a filter is not a new page), sets the
 * document title and moves focus to the new page's <h1> as soon as it is rendered — a
 * page may show a skeleton first. The wait ends early if the user has already moved
 * into the new page (focus inside <main>), so focus is never pulled back.
 * Layout effect for the title: it runs before the page's own (passive) PageHeader
 * effect, which therefore wins.
 */
export function useRouteFocus(pathname: string, language: string): void {
  const first = useRef(true);
  useLayoutEffect(() => {
    document.title = `${routeTitle(pathname)} · Bursar`;
  }, [pathname, language]);
  useEffect(() => {
    if (first.current) {
      // The first page of a visit keeps the browser's own start (the skip link first).
      first.current = false;
      return;
    }
    const main = document.getElementById('main');
    if (!main) {
      return;
    }
    const tryFocus = (): boolean => {
      if (document.activeElement && document.activeElement !== document.body && main.contains(document.activeElement)) {
        return true;
      }
      const heading = main.querySelector<HTMLElement>('h1');
      if (!heading) {
        return false;
      }
      heading.focus({ preventScroll: true });
      // A heading that cannot take focus is not the new page's: while a lazily loaded
      // page's chunk arrives, Suspense keeps the previous page in the DOM, hidden
      // (display: none), and focus() on it does nothing. Keep waiting for the new one.
      return document.activeElement === heading;
    };
    if (tryFocus()) {
      return;
    }
    const observer = new MutationObserver(() => {
      if (tryFocus()) {
        observer.disconnect();
        clearTimeout(timer);
      }
    });
    observer.observe(main, { childList: true, subtree: true });
    const timer = setTimeout(() => observer.disconnect(), HEADING_WAIT_MS);
    return () => {
      observer.disconnect();
      clearTimeout(timer);
    };
  }, [pathname]);
}
