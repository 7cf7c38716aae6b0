// Lint config: typescript-eslint's type-checked recommended rules over src, test and bench.
// Types come from the project service: tsconfig.json covers src, test, bench and the root
// .ts configs; the browser UI under src/admin/ui/web has its own tsconfig.ui.json.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '.cache/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The browser UI is outside tsconfig.json (DOM lib, no node types); lint it with its own.
    files: ['src/admin/ui/web/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.ui.json' },
    },
  },
  {
    // Plain JS (this file, bench helpers) has no types to check.
    files: ['**/*.mjs', '**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
