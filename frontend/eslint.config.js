// ESLint for the web app: JavaScript's and typescript-eslint's recommended rules and the rules of
// hooks, on the app (src/), its browser test (e2e/), the scripts and these config files.
// `npm run lint` fails on any warning.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // Built output, and the types generated from openapi.json (`npm run gen:api`).
  globalIgnores(["dist/", "src/api/schema.ts"]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}"],
    extends: [reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ["e2e/**", "*.config.{js,ts}"],
    languageOptions: { globals: globals.node },
  },
]);
