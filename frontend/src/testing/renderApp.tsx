// Rendering screens as the app has them: a session (refreshed through the stubbed API) or none,
// the app config, a router; and the live connection on a FakeSocket.
import { act, render, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter, Routes } from "react-router-dom";
import { expect, vi } from "vitest";
import { adoptSession } from "../api/client";
import { AppConfigProvider } from "../appConfig";
import { AuthProvider } from "../auth/AuthContext";
import { connectLive, disconnectLive } from "../live/live";
import { FakeSocket, SESSION } from "./fakes";

/** Renders `routes` at `path` for a signed-in owner; stub the API (`stubApi`) first. */
export function renderSignedIn(path: string, routes: ReactNode) {
  adoptSession(SESSION);
  return renderRoutes(path, routes);
}

/**
 * Renders `routes` at `path` with whatever session the stubbed API's refresh answers (for a
 * signed-out visitor, answer `POST /api/auth/refresh` with a 401).
 */
export function renderRoutes(path: string, routes: ReactNode) {
  return render(
    <AuthProvider>
      <AppConfigProvider>
        <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <Routes>{routes}</Routes>
        </MemoryRouter>
      </AppConfigProvider>
    </AuthProvider>,
  );
}

/** Connects the live updates to a FakeSocket and opens it. */
export async function goLive(): Promise<FakeSocket> {
  FakeSocket.last = undefined;
  vi.stubGlobal("WebSocket", FakeSocket);
  connectLive();
  await waitFor(() => expect(FakeSocket.last).toBeDefined());
  const socket = FakeSocket.last!;
  act(() => socket.open());
  return socket;
}

/** Undoes `renderSignedIn` and `goLive`. */
export function signOut() {
  disconnectLive();
  adoptSession(null);
}
