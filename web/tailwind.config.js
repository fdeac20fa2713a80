/**
 * Tailwind 3 (pure JS: no native scanner binaries to lock per platform). Paths are
 * relative to this file, whatever directory the build runs from.
 * @type {import('tailwindcss').Config}
 */
export default {
  content: { relative: true, files: ['./index.html', './src/**/*.{ts,tsx}'] },
  theme: {
    extend: {
      fontFamily: {
        sans: ['Inter', 'ui-sans-serif', 'system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'sans-serif'],
      },
    },
  },
};
