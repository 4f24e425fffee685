import { AdapterPanel } from './components/AdapterPanel.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { Notices } from './components/Notices.tsx';
import { SelfTestPanel } from './components/SelfTestPanel.tsx';

export function App() {
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
    </div>
  );
}
