import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { apiFetch, getTokens, onTokensChange, setTokens, type TokenPair } from '../lib/api';

export type Role = 'super_admin' | 'school_admin' | 'finance_analyst' | 'developer' | 'guardian';

/** GET /auth/me: who is signed in and what their role may do (from the server's policy table). */
export interface Me {
  id: string;
  username: string;
  role: Role;
  schoolIds: 'all' | string[];
  pii: 'clear' | 'masked';
  permissions: string[];
}

interface Session {
  me: Me | null;
  loading: boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  can: (permission: string) => boolean;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [signedIn, setSignedIn] = useState(() => getTokens() !== null);
  useEffect(() => onTokensChange((tokens) => setSignedIn(tokens !== null)), []);

  const me = useQuery({
    queryKey: ['auth', 'me'],
    queryFn: ({ signal }) => apiFetch<Me>('/auth/me', { signal }),
    enabled: signedIn,
    staleTime: 5 * 60_000,
  });

  const value: Session = {
    me: signedIn ? (me.data ?? null) : null,
    loading: signedIn && me.isPending,
    async login(username, password) {
      const tokens = await apiFetch<TokenPair>('/auth/login', { method: 'POST', body: { username, password } });
      queryClient.clear();
      setTokens(tokens);
    },
    async logout() {
      try {
        await apiFetch<void>('/auth/logout', { method: 'POST' });
      } catch {
        // The session ends locally whatever the server says (expired, offline).
      }
      setTokens(null);
      queryClient.clear();
    },
    can(permission) {
      return me.data?.permissions.includes(permission) ?? false;
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) {
    throw new Error('useSession outside SessionProvider');
  }
  return session;
}
