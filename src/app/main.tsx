import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { connectEngine } from './actions.ts';
import { useStudio } from './store.ts';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

connectEngine().catch((error: unknown) => {
  useStudio.getState().setGpu({ state: 'unavailable', message: `The engine worker failed to start: ${(error as Error).message}`, advice: ['Reload the page; if it persists, check the browser console.'] });
});
