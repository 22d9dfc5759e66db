// The frame of every signed-in screen: navigation, the organisation switcher, the live
// indicator, the user menu, and the reminder to verify the email address.
import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { can, useAuth } from "../auth/AuthContext";
import { VerifyEmailBanner } from "../auth/EmailVerification";
import { useLiveStatus } from "../live/live";
import { useSupport } from "../support/Support";

export function Layout() {
  const { me, logout, switchOrganization } = useAuth();
  const live = useLiveStatus();
  const navigate = useNavigate();
  const [menu, setMenu] = useState(false);
  const support = useSupport();
  if (!me) return null;
  return (
    <div className="app">
      <header className="topbar">
        <button className="menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>
          Menu
        </button>
        <strong className="brand">Invoices</strong>
        <nav id="nav" className={menu ? "nav open" : "nav"} onClick={() => setMenu(false)}>
          <NavLink to="/invoices">Invoices</NavLink>
          <NavLink to="/customers">Customers</NavLink>
          <NavLink to="/analytics">Analytics</NavLink>
          {can(me.role, "admin") && <NavLink to="/ops">Ops</NavLink>}
          <NavLink to="/settings">Settings</NavLink>
          {support.data && <NavLink to="/support">Support</NavLink>}
        </nav>
        <span className={`live live-${live}`} title="Live updates" data-testid="live-status">
          {live === "live" ? "● live" : live === "off" ? "" : "○ " + live}
        </span>
        {me.memberships.length > 1 ? (
          <select
            aria-label="Organisation"
            value={me.organization.id}
            onChange={async (e) => {
              await switchOrganization(e.target.value);
              navigate("/invoices");
            }}
          >
            {me.memberships.map((m) => (
              <option key={m.organization.id} value={m.organization.id}>
                {m.organization.name} ({m.role})
              </option>
            ))}
          </select>
        ) : (
          <span className="org" data-testid="org-name">{me.organization.name}</span>
        )}
        <span className="user">
          {me.user?.email} · {me.role}
        </span>
        <button
          onClick={async () => {
            await logout();
            navigate("/login");
          }}
        >
          Log out
        </button>
      </header>
      <VerifyEmailBanner />
      <main>
        {/* Keyed by organisation: a switch reloads every screen's data. */}
        <Outlet key={me.organization.id} />
      </main>
    </div>
  );
}
