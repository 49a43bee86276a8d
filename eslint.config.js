// Type-aware linting: floating promises and unsafe `any` flows are errors (STYLE.md §9).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'migrations', '.data', 'dist', 'coverage', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['bin/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  // Worker-thread scripts, and the Workers bundle's list of non-code imports: plain
  // JavaScript modules outside the TypeScript project.
  {
    files: ['src/**/*.mjs', 'src/workers/bundled.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  // The pages' browser scripts: classic scripts outside the TypeScript project. Each one
  // declares the bundle's SimpleWebAuthnBrowser itself with a `/* global */` comment.
  {
    files: ['src/ui/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        URL: 'readonly',
        console: 'readonly',
      },
    },
  },
);
