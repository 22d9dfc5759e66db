// Vite: the dev server proxies the API (and its WebSocket and hosted pages) so the app always
// talks to same-origin relative URLs, as it does when the API serves the built files.
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

const api = process.env.API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/api": { target: api, ws: true, changeOrigin: true },
      "/api-docs": { target: api, changeOrigin: true },
      "/i/": { target: api, changeOrigin: true },
    },
  },
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 1500 },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
