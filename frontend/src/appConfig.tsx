// The server's settings for the web app (`GET /api/app-config`, public), loaded once at start-up
// and shared: among them the ISO 4217 table every amount on every screen is formatted with.
// Nothing below the provider renders until the table is there, so no amount is ever shown with
// a guessed number of decimals.
import { createContext, useContext, useMemo, type ReactNode } from "react";
import { client, unwrap, type Schemas } from "./api/client";
import { ErrorBox, Loading } from "./components/ui";
import { moneyFormat, type Money } from "./money";
import { useAsync } from "./useAsync";

export type AppConfig = Schemas["AppConfig"];

let pending: Promise<AppConfig> | null = null;

/** The one request for the settings; a failed one is forgotten, so that a retry asks again. */
export function loadAppConfig(): Promise<AppConfig> {
  pending ??= unwrap(client.GET("/api/app-config")).catch((err: unknown) => {
    pending = null;
    throw err;
  });
  return pending;
}

interface Loaded {
  config: AppConfig;
  money: Money;
}

const AppConfigContext = createContext<Loaded | null>(null);

export function AppConfigProvider({ children }: { children: ReactNode }) {
  const loaded = useAsync(loadAppConfig, []);
  const config = loaded.data;
  const value = useMemo(() => (config ? { config, money: moneyFormat(config.currencies) } : null), [config]);
  if (loaded.error) return <ErrorBox error={loaded.error} onRetry={() => loaded.reload()} />;
  if (!value) return <Loading />;
  return <AppConfigContext.Provider value={value}>{children}</AppConfigContext.Provider>;
}

function useLoaded(): Loaded {
  const value = useContext(AppConfigContext);
  if (!value) throw new Error("useAppConfig or useMoney outside AppConfigProvider");
  return value;
}

export function useAppConfig(): AppConfig {
  return useLoaded().config;
}

/** Amounts formatted with the server's currency table. */
export function useMoney(): Money {
  return useLoaded().money;
}
