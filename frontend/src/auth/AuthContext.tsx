// Who is signed in, in which organisation, with which role; sign up, log in, switch, log out,
// and reading the user again when something changed them (a verified email address).
// The session survives reloads through the refresh token, an HttpOnly cookie the page cannot
// read: a reload asks /api/auth/refresh whether there is one. Access tokens are renewed
// silently a minute before they expire.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { adoptSession, client, currentAccessToken, refreshSession, setSessionListener, unwrap, type Schemas, type Session } from "../api/client";

type Role = Schemas["Role"];
type Me = Schemas["Me"];

interface AuthState {
  me: Me | null;
  loading: boolean;
  login(email: string, password: string): Promise<void>;
  signup(email: string, password: string, organizationName?: string): Promise<void>;
  logout(): Promise<void>;
  switchOrganization(id: string): Promise<void>;
  /** Reads `me` again, when there is a session (nothing happens without one). */
  reloadMe(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

const RANK: Record<Role, number> = { viewer: 0, accountant: 1, admin: 2, owner: 3 };

/** Whether `role` may do what needs at least `least`. */
export function can(role: Role | undefined, least: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[least];
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);
  const timer = useRef<number>();
  const loads = useRef(0);

  // Only the latest read counts: an older answer arriving last must not undo a newer one.
  const loadMe = useCallback(async () => {
    const mine = ++loads.current;
    const answer = await unwrap(client.GET("/api/me"));
    if (mine === loads.current) setMe(answer);
  }, []);

  // Stable, for effects that call it.
  const reloadMe = useCallback(async () => {
    if (currentAccessToken()) await loadMe();
  }, [loadMe]);

  useEffect(() => {
    setSessionListener((session: Session | null) => {
      window.clearTimeout(timer.current);
      if (!session) {
        setMe(null);
        return;
      }
      const renewIn = Math.max(10, session.expiresIn - 60) * 1000;
      timer.current = window.setTimeout(() => void refreshSession(), renewIn);
    });
    (async () => {
      try {
        if (await refreshSession()) await loadMe();
      } finally {
        setLoading(false);
      }
    })();
    return () => window.clearTimeout(timer.current);
  }, [loadMe]);

  const value: AuthState = {
    me,
    loading,
    async login(email, password) {
      adoptSession(await unwrap(client.POST("/api/auth/login", { body: { email, password } })));
      await loadMe();
    },
    async signup(email, password, organizationName) {
      const body = { email, password, ...(organizationName ? { organizationName } : {}) };
      adoptSession(await unwrap(client.POST("/api/auth/register", { body })));
      await loadMe();
    },
    async logout() {
      // The cookie goes along, and the answer deletes it.
      await unwrap(client.POST("/api/auth/logout", { body: {} })).catch(() => {});
      adoptSession(null);
    },
    async switchOrganization(id) {
      if (await refreshSession(id)) await loadMe();
    },
    reloadMe,
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
