// Routes: the public pages (sign-up, login, the password reset and email verification that
// emailed links open) and the signed-in app inside the layout; all of it once the server's
// settings (and with them its currency table) are there. The analytics route loads lazily.
import { lazy, Suspense, useEffect, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { AppConfigProvider } from "./appConfig";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { LoginPage, SignupPage } from "./auth/AuthPages";
import { VerifyEmailPage } from "./auth/EmailVerification";
import { ForgotPasswordPage, ResetPasswordPage } from "./auth/PasswordReset";
import { Layout } from "./components/Layout";
import { Loading } from "./components/ui";
import { CustomerDetail, CustomerList } from "./customers/Customers";
import { InvoiceDetail } from "./invoices/InvoiceDetail";
import { InvoiceForm } from "./invoices/InvoiceForm";
import { InvoiceList } from "./invoices/InvoiceList";
import { connectLive, disconnectLive } from "./live/live";
import { Ops } from "./ops/Ops";
import { Settings } from "./settings/Settings";
import { Support } from "./support/Support";

// The analytics page brings ECharts (most of the app's JavaScript): loaded only when opened,
// so the invoice list's first load does not carry it.
const Analytics = lazy(() =>
  import("./analytics/Analytics").then((m) => ({ default: m.Analytics })),
);

function RequireAuth({ children }: { children: ReactNode }) {
  const { me, loading } = useAuth();
  const location = useLocation();
  // One live connection per organisation: switching reconnects with the new token.
  const orgId = me?.organization.id;
  useEffect(() => {
    if (!orgId) return;
    connectLive();
    return () => disconnectLive();
  }, [orgId]);
  if (loading) return <Loading />;
  if (!me) return <Navigate to="/login" state={{ from: location }} replace />;
  return <>{children}</>;
}

function NotFound() {
  return <p>There is nothing here. <a href="/invoices">Back to invoices</a></p>;
}

export function App() {
  return (
    <AuthProvider>
      <AppConfigProvider>
        <BrowserRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/signup" element={<SignupPage />} />
            <Route path="/forgot-password" element={<ForgotPasswordPage />} />
            <Route path="/reset-password" element={<ResetPasswordPage />} />
            <Route path="/verify-email" element={<VerifyEmailPage />} />
            <Route element={<RequireAuth><Layout /></RequireAuth>}>
              <Route index element={<Navigate to="/invoices" replace />} />
              <Route path="/invoices" element={<InvoiceList />} />
              <Route path="/invoices/new" element={<InvoiceForm />} />
              <Route path="/invoices/:id" element={<InvoiceDetail />} />
              <Route path="/invoices/:id/edit" element={<InvoiceForm />} />
              <Route path="/customers" element={<CustomerList />} />
              <Route path="/customers/:id" element={<CustomerDetail />} />
              <Route path="/settings" element={<Settings />} />
              <Route path="/ops" element={<Ops />} />
              <Route
                path="/analytics"
                element={
                  <Suspense fallback={<Loading />}>
                    <Analytics />
                  </Suspense>
                }
              />
              <Route path="/support" element={<Support />} />
              <Route path="*" element={<NotFound />} />
            </Route>
          </Routes>
        </BrowserRouter>
      </AppConfigProvider>
    </AuthProvider>
  );
}
