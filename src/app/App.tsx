import { useEffect } from 'react';
import { AdapterPanel } from './components/AdapterPanel.tsx';
import { ConceptPanel } from './components/ConceptPanel.tsx';
import { EvaluatePanel } from './components/EvaluatePanel.tsx';
import { GeneratePanel } from './components/GeneratePanel.tsx';
import { LoraPanel } from './components/LoraPanel.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { Notices } from './components/Notices.tsx';
import { SelfTestPanel } from './components/SelfTestPanel.tsx';
import { useStudioShortcuts } from './shortcuts.ts';
import { installTestHooks } from './test-hooks.ts';

export function App() {
  useStudioShortcuts();
  useEffect(installTestHooks, []);
  return (
    <div className="studio">
      <header>
        <h1>Lethe</h1>
        <p className="tagline">Erase concepts from Stable Diffusion — on your GPU, in this tab, with no server.</p>
      </header>
      <Notices />
      <main>
        <AdapterPanel />
        <ModelPanel />
        <SelfTestPanel />
      </main>
      {/* The images stay in view (sticky) while the concept and LoRA controls scroll beside them. */}
      <div className="workspace">
        <div className="workspace-images">
          <GeneratePanel />
        </div>
        <div className="workspace-controls">
          <ConceptPanel />
          <LoraPanel />
        </div>
      </div>
      <EvaluatePanel />
    </div>
  );
}
