// Type-aware lint for the workspace (one quality gate, `pnpm check`): no floating promises, no console outside CLIs.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.stack/**',
      'reports/**',
      '**/dist/**',
      'eslint.config.js',
      'scripts/*.mjs',
      // Browser scripts of the console (plain ES2017, not part of the TypeScript program).
      'services/console/src/public/**',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/require-await': 'off',
      'no-console': 'error',
    },
  },
  {
    // CLI entry points and benchmarks print to the terminal by design.
    files: ['**/cli/**/*.ts', '**/cli.ts', '**/bench/**/*.ts', '**/main.ts', 'infra/stack/src/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
