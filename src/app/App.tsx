import { useEffect } from 'react';
import { AdapterPanel } from './components/AdapterPanel.tsx';
import { ComparisonGrid } from './components/ComparisonGrid.tsx';
import { CompareViewer } from './components/CompareViewer.tsx';
import { ConceptPanel } from './components/ConceptPanel.tsx';
import { DiagnosticsDrawer } from './components/DiagnosticsDrawer.tsx';
import { EvaluatePanel } from './components/EvaluatePanel.tsx';
import { GeneratePanel } from './components/GeneratePanel.tsx';
import { HistoryPanel } from './components/HistoryPanel.tsx';
import { LoraPanel } from './components/LoraPanel.tsx';
import { MeasurePanel } from './components/MeasurePanel.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { Notices } from './components/Notices.tsx';
import { StudioHeader } from './components/StudioHeader.tsx';
import { TrainingPanel } from './components/TrainingPanel.tsx';
import { useStudioShortcuts } from './shortcuts.ts';
import { useStudio } from './store.ts';
import { installTestHooks } from './test-hooks.ts';

/**
 * The erasure workbench: the order on screen is the order of the work (model -> concept ->
 * erase -> compare -> export). Wide windows put the steps on the left and the results on the
 * right; narrow ones stack them in the same order.
 */
export function App() {
  useStudioShortcuts();
  useEffect(installTestHooks, []);
  const gpuUnavailable = useStudio((s) => s.gpu.state === 'unavailable');
  return (
    <div className="studio">
      <StudioHeader />
      <Notices />
      {gpuUnavailable && <AdapterPanel />}
      <div className="workbench">
        <div className="workbench-steps">
          <ModelPanel />
          <ConceptPanel />
        </div>
        <div className="workbench-results">
          <ComparisonGrid />
          <GeneratePanel />
          <MeasurePanel />
          <EvaluatePanel />
          <TrainingPanel />
          <LoraPanel />
          <HistoryPanel />
        </div>
      </div>
      <DiagnosticsDrawer />
      <CompareViewer />
    </div>
  );
}
