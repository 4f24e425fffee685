import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// onnxruntime-web's threaded wasm needs SharedArrayBuffer, which needs cross-origin isolation.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// LETHE_DIST lets several builds (parallel e2e runs) live side by side; dist/ by default.
const outDir = process.env.LETHE_DIST ?? 'dist';

export default defineConfig({
  plugins: [react()],
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    outDir,
    target: 'es2022',
    rollupOptions: {
      input: { studio: 'index.html', bench: 'bench.html', checks: 'checks.html' },
    },
  },
});
