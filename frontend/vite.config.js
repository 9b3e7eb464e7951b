import { defineConfig } from 'vite'

// The API serves frontend/dist at "/", so relative asset paths work both there and from a
// sub-path. During `npm run dev`, /api, /health and /ready are proxied to a local service.
const target = process.env.ELSNET_API ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: {
    proxy: { '/api': target, '/health': target, '/ready': target },
  },
})
