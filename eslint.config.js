// ESLint flat config: typescript-eslint on every TypeScript file; type-aware rules (floating
// promises, misused promises, unsafe any) on the action's own code, src/, where a dropped promise
// or an unchecked value is a bug in a user's workflow. Formatting is Prettier's job
// (`npm run format:check`), so eslint-config-prettier turns the stylistic rules off.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.bench-out/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      // the action neutralises control characters in text from outside: its regexes match them on purpose
      'no-control-regex': 'off',
      // `_`-prefixed parameters are a handler's unused arguments (e.g. (_req, res) => ...)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // caught errors are rethrown or passed on as they are (`unknown`, narrowed to `{}` by a
      // `!== undefined` check, which these rules report); one place, errors.ts, gives them a type
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    // tests and the simulator's test client read loosely typed JSON answers field by field
    files: ['__tests__/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
